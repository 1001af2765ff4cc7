package io.roster.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code /livez} and {@code /readyz} of a real node, through a real HTTP client. */
class HealthEndpointsTest {
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  LocalCluster cluster;
  HealthEndpoints http;
  final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeEach
  void start() {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(5));
    cluster.awaitReady(WAIT);
    Node n1 = cluster.node("n1");
    http = HealthEndpoints.start("127.0.0.1:0", n1::health);
  }

  @AfterEach
  void stop() {
    try {
      if (http != null) {
        http.close();
      }
    } finally {
      cluster.close();
    }
  }

  HttpResponse<String> send(String method, String path) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + http.address().getPort() + path);
    return client.send(HttpRequest.newBuilder(uri).method(method, HttpRequest.BodyPublishers.noBody())
        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void readyzTurnsNotReadyWhenTheMemberLosesItsLeaderAndReadyAgainAfter() throws Exception {
    Awaitility.await("ready").atMost(WAIT).until(() -> send("GET", "/readyz").statusCode() == 200);
    assertThat(send("GET", "/readyz").body()).isEqualTo("ok\n");
    assertThat(send("GET", "/livez").statusCode()).isEqualTo(200);

    cluster.crash("n2");
    cluster.crash("n3");
    Awaitility.await("not ready").atMost(WAIT).until(() -> send("GET", "/readyz").statusCode() == 503);
    HttpResponse<String> notReady = send("GET", "/readyz");
    assertThat(notReady.body()).containsAnyOf("no leader", "has heard this node");
    assertThat(notReady.headers().firstValue("Content-Type")).hasValue("text/plain; charset=utf-8");
    assertThat(send("GET", "/livez").statusCode()).as("live without a quorum").isEqualTo(200);

    cluster.startVoter("n2");
    cluster.startVoter("n3");
    Awaitility.await("ready again").atMost(WAIT).until(() -> send("GET", "/readyz").statusCode() == 200);
  }

  @Test
  void onlyGetAndHeadOnTheTwoPathsAreServed() throws Exception {
    assertThat(send("POST", "/readyz").statusCode()).isEqualTo(405);
    assertThat(send("DELETE", "/livez").statusCode()).isEqualTo(405);
    assertThat(send("GET", "/metrics").statusCode()).isEqualTo(404);
    HttpResponse<String> head = send("HEAD", "/livez");
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
  }

  @Test
  void aClosedNodeIsNotLive() throws Exception {
    cluster.stop("n1");
    HttpResponse<String> livez = send("GET", "/livez");
    assertThat(livez.statusCode()).isEqualTo(503);
    assertThat(livez.body()).isEqualTo("node n1 is closed\n");
  }

  @Test
  void aHealthThatCannotBeReadIsAnErrorAnswerNotASilentlyClosedConnection() throws Exception {
    try (HealthEndpoints failing = HealthEndpoints.start("127.0.0.1:0", () -> {
      throw new IllegalStateException("planted");
    })) {
      URI uri = URI.create("http://127.0.0.1:" + failing.address().getPort() + "/readyz");
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(500);
      assertThat(r.body()).contains("planted");
    }
  }

  @Test
  void aMalformedAddressIsRefusedWithItsReason() {
    assertThatThrownBy(() -> HealthEndpoints.address("no-such-host.invalid:8080")).hasMessageContaining("is unknown");
    assertThatThrownBy(() -> HealthEndpoints.address("localhost")).hasMessageContaining("is not host:port");
    assertThatThrownBy(() -> HealthEndpoints.address("localhost:http")).hasMessageContaining("has no port number");
    assertThatThrownBy(() -> HealthEndpoints.address("localhost:70000")).hasMessageContaining("out of range");
  }
}
