package io.roster.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.RegistryNode;
import io.roster.spring.app.GreeterApp;
import io.roster.Role;
import io.roster.testkit.RosterCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.actuate.health.HealthEndpoint;
import org.springframework.boot.actuate.health.Status;
import org.springframework.boot.availability.ApplicationAvailability;
import org.springframework.boot.availability.LivenessState;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.cloud.client.ServiceInstance;
import org.springframework.cloud.client.discovery.DiscoveryClient;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.web.client.RestClient;

/**
 * The starter in real Spring Boot applications against a real 3-voter TLS cluster from the testkit's
 * {@link RosterCluster}: the node starts from {@code roster.*} properties and closes with the context,
 * Actuator's health follows the cluster's quorum, and Spring Cloud's DiscoveryClient and LoadBalancer
 * find a second application (a JVM of its own) through Roster and lose it when that JVM is killed.
 */
class RosterStarterTest {
  static final Duration WAIT = Duration.ofSeconds(60);

  @RegisterExtension
  final RosterCluster cluster = RosterCluster.voters(3).sessionTimeout(Duration.ofSeconds(3)).build();

  final List<ConfigurableApplicationContext> contexts = new ArrayList<>();
  Process second;

  @AfterEach
  void stop() throws Exception {
    if (second != null) {
      second.destroyForcibly();
      second.waitFor(10, TimeUnit.SECONDS);
    }
    contexts.forEach(ConfigurableApplicationContext::close);
  }

  /** The properties of application node {@code id}, a client node of the test's cluster. */
  private List<String> properties(String id, String name, String sessionTimeout) {
    RosterCluster.CertificateFiles tls = cluster.clientTls(id);
    List<String> p = new ArrayList<>(List.of("--roster.node-id=" + id, "--spring.application.name=" + name,
        "--roster.session-timeout=" + sessionTimeout, "--server.port=0", "--server.address=127.0.0.1",
        "--roster.discovery.host=127.0.0.1", "--roster.tls.cert=" + tls.cert(), "--roster.tls.key=" + tls.key(),
        "--roster.tls.ca=" + tls.ca(), "--management.endpoint.health.show-details=always",
        "--spring.cloud.loadbalancer.cache.enabled=false", "--spring.main.banner-mode=off"));
    cluster.voters().forEach((v, address) -> p.add("--roster.voters." + v + "=" + address));
    return p;
  }

  private ConfigurableApplicationContext start(String id, String name, String sessionTimeout) {
    ConfigurableApplicationContext c = new SpringApplicationBuilder(GreeterApp.class)
        .run(properties(id, name, sessionTimeout).toArray(new String[0]));
    contexts.add(c);
    return c;
  }

  @Test
  void theNodeStartsFromPropertiesAndItsHealthFollowsTheClustersQuorum() throws Exception {
    // a session long enough that the voters are back before this node gives it up (self-fencing: after
    // the timeout without a leader's answer the node is not live, to be restarted)
    ConfigurableApplicationContext app = start("app1", "orders", "15s");
    RegistryNode node = app.getBean(RegistryNode.class);
    assertThat(node.nodeId()).isEqualTo("app1");
    assertThat(node.role()).isEqualTo(Role.CLIENT);
    node.ready().get(WAIT.toSeconds(), TimeUnit.SECONDS);
    HealthEndpoint health = app.getBean(HealthEndpoint.class);
    Awaitility.await().atMost(WAIT).until(() -> health.healthForPath("roster").getStatus().equals(Status.UP));
    // the node's meters are in the application's registry, tagged with the node
    io.micrometer.core.instrument.MeterRegistry meters = app.getBean(io.micrometer.core.instrument.MeterRegistry.class);
    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
        meters.find("roster.server.has.leader").tag("node", "app1").gauges())
        .as(meters.getClass() + " " + meters.getMeters().stream().map(m -> m.getId().toString()).toList())
        .singleElement().satisfies(g -> assertThat(g.value()).isEqualTo(1.0)));

    // two voters of three down: no quorum, no leader hears this node: out of service within 2/3 of the
    // session (live: it may come back by itself), then UP again when the voters are back
    String leader = cluster.leader();
    List<String> down = cluster.voters().keySet().stream().filter(v -> !v.equals(leader)).toList();
    down.forEach(cluster::crash);
    Awaitility.await().atMost(WAIT).until(() ->
        health.healthForPath("roster").getStatus().equals(Status.OUT_OF_SERVICE));
    assertThat(app.getBean(ApplicationAvailability.class).getLivenessState()).isEqualTo(LivenessState.CORRECT);
    down.forEach(cluster::restart);
    Awaitility.await().atMost(WAIT).until(() -> health.healthForPath("roster").getStatus().equals(Status.UP));

    app.close(); // the node closes with the context
    assertThat(node.health().live()).isFalse();
  }

  @Test
  void aClientNodeThatLostItsSessionIsDownMarksTheApplicationBrokenAndListsNoStaleInstance() throws Exception {
    ConfigurableApplicationContext app = start("app2", "orders", "3s");
    RegistryNode node = app.getBean(RegistryNode.class);
    node.ready().get(WAIT.toSeconds(), TimeUnit.SECONDS);
    DiscoveryClient discovery = app.getBean(DiscoveryClient.class);
    Awaitility.await().atMost(WAIT).until(() -> discovery.getInstances("orders").size() == 1);
    String leader = cluster.leader();
    cluster.voters().keySet().stream().filter(v -> !v.equals(leader)).toList().forEach(cluster::crash);
    // no leader hears it for its session timeout: it gives its session up (self-fencing) and can only be
    // restarted: liveness BROKEN, health DOWN, and its frozen mirror lists nothing
    Awaitility.await().atMost(WAIT).until(() ->
        app.getBean(ApplicationAvailability.class).getLivenessState() == LivenessState.BROKEN);
    HealthEndpoint health = app.getBean(HealthEndpoint.class);
    assertThat(health.healthForPath("roster").getStatus()).isEqualTo(Status.DOWN);
    assertThat(discovery.getInstances("orders")).isEmpty();
  }

  @Test
  void discoveryFindsASecondApplicationAndLosesItWhenItsJvmIsKilled() throws Exception {
    ConfigurableApplicationContext caller = start("caller1", "caller", "3s");
    DiscoveryClient discovery = caller.getBean(DiscoveryClient.class);

    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-cp", System.getProperty("java.class.path"), GreeterApp.class.getName()));
    command.addAll(properties("greeter1", "greeter", "3s"));
    Path log = Files.createTempFile("greeter", ".log");
    second = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      Awaitility.await().atMost(WAIT).failFast("the greeter exited", () -> !second.isAlive())
          .until(() -> discovery.getInstances("greeter").size() == 1);
    } catch (RuntimeException e) {
      throw new AssertionError(Files.readString(log), e);
    }
    ServiceInstance greeter = discovery.getInstances("greeter").get(0);
    assertThat(greeter.getHost()).isEqualTo("127.0.0.1");
    assertThat(greeter.getPort()).isPositive();
    assertThat(discovery.getServices()).contains("greeter", "caller");
    // Spring Cloud LoadBalancer resolves the service name through Roster
    RestClient client = caller.getBean(RestClient.Builder.class).build();
    assertThat(client.get().uri("http://greeter/hello").retrieve().body(String.class)).isEqualTo("hello from greeter1");

    // a third application in this JVM, closed: it deregisters as its context starts closing
    ConfigurableApplicationContext third = start("greeter2", "greeter", "3s");
    Awaitility.await().atMost(WAIT).until(() -> discovery.getInstances("greeter").size() == 2);
    third.close();
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> discovery.getInstances("greeter").size() == 1);

    second.destroyForcibly(); // kill -9: no deregistration, no goodbye
    second.waitFor(10, TimeUnit.SECONDS);
    Awaitility.await().atMost(WAIT).until(() -> discovery.getInstances("greeter").isEmpty());
    assertThat(discovery.getInstances("caller")).hasSize(1);
  }
}
