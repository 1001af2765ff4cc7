package io.roster.spring.app;

import io.roster.RegistryNode;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.cloud.client.loadbalancer.LoadBalanced;
import org.springframework.context.annotation.Bean;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;

/**
 * The application of the starter's tests: one HTTP endpoint naming its Roster node, and a
 * load-balanced {@code RestClient} that finds other applications through Roster. Run in the test's
 * JVM and, as a second application, in a process of its own ({@link #main}).
 */
@SpringBootApplication
@RestController
public class GreeterApp {
  private final RegistryNode node;

  public GreeterApp(RegistryNode node) {
    this.node = node;
  }

  @GetMapping("/hello")
  public String hello() {
    return "hello from " + node.nodeId();
  }

  @Bean
  @LoadBalanced
  RestClient.Builder loadBalanced() {
    return RestClient.builder();
  }

  public static void main(String[] args) {
    SpringApplication.run(GreeterApp.class, args);
  }
}
