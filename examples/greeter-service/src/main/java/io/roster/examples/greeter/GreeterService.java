package io.roster.examples.greeter;

import io.roster.RegistryNode;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * A service that greets: it registers itself in Roster as {@code greeter} (the starter does it once
 * the web server listens) and answers {@code GET /greet?name=...}.
 */
@SpringBootApplication
@RestController
public class GreeterService {
  private final RegistryNode node;

  public GreeterService(RegistryNode node) {
    this.node = node;
  }

  @GetMapping("/greet")
  public String greet(@RequestParam(name = "name", defaultValue = "world") String name) {
    return "hello " + name + ", from greeter on Roster node " + node.nodeId();
  }

  public static void main(String[] args) {
    SpringApplication.run(GreeterService.class, args);
  }
}
