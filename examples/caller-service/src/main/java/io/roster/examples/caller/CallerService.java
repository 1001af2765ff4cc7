package io.roster.examples.caller;

import java.time.Duration;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.cloud.client.discovery.DiscoveryClient;
import org.springframework.cloud.client.loadbalancer.LoadBalanced;
import org.springframework.context.annotation.Bean;
import org.springframework.web.client.RestClient;

/**
 * A service that calls the greeter by its service name: Spring Cloud LoadBalancer resolves
 * {@code http://greeter} through Roster's DiscoveryClient (the local mirror, no network hop). At
 * start it waits for the greeter to be registered, calls it, and prints the answer.
 */
@SpringBootApplication
public class CallerService {
  @Bean
  @LoadBalanced
  RestClient.Builder loadBalanced() {
    return RestClient.builder();
  }

  @Bean
  ApplicationRunner callGreeter(DiscoveryClient discovery, RestClient.Builder http) {
    return (ApplicationArguments args) -> {
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (discovery.getInstances("greeter").isEmpty()) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("no greeter registered in Roster within 60 s");
        }
        Thread.sleep(200);
      }
      var greeter = discovery.getInstances("greeter").get(0);
      System.out.println("caller: found greeter through Roster at " + greeter.getHost() + ":" + greeter.getPort());
      String answer = http.build().get().uri("http://greeter/greet?name=caller").retrieve().body(String.class);
      System.out.println("caller: GET http://greeter/greet -> \"" + answer + "\"");
    };
  }

  /** Calls once, then ends: its node says goodbye and its names go at once. */
  public static void main(String[] args) {
    System.exit(SpringApplication.exit(SpringApplication.run(CallerService.class, args)));
  }
}
