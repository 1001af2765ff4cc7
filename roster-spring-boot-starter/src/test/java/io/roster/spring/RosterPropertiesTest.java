package io.roster.spring;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.roster.spring.app.GreeterApp;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;

/** Properties the node cannot start from stop the context with the property's name (no cluster needed). */
class RosterPropertiesTest {
  @Test
  void missingOrContradictoryPropertiesStopTheContextWithTheirNames() {
    assertThatThrownBy(() -> new SpringApplicationBuilder(GreeterApp.class).run("--server.port=0",
        "--roster.voters.n1=127.0.0.1:1", "--spring.main.banner-mode=off"))
        .hasStackTraceContaining("roster.node-id is not set");
    assertThatThrownBy(() -> new SpringApplicationBuilder(GreeterApp.class).run("--server.port=0",
        "--roster.node-id=x", "--roster.voters.n1=127.0.0.1:1", "--spring.main.banner-mode=off"))
        .hasStackTraceContaining("roster.tls.cert, roster.tls.key and roster.tls.ca are not set");
    assertThatThrownBy(() -> new SpringApplicationBuilder(GreeterApp.class).run("--server.port=0",
        "--roster.node-id=x", "--roster.voters.n1=127.0.0.1:1", "--roster.role=VOTER", "--roster.insecure=true",
        "--spring.main.banner-mode=off"))
        .hasStackTraceContaining("roster.data-dir is not set");
  }}
