package io.roster.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.ValueCodec;
import io.roster.testkit.LocalCluster;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /metrics} of a real voter (a one-voter cluster on loopback) scraped by a real HTTP client
 * while it serves writes and reads: the named series are there and move, and they leave with the node.
 */
class MetricsEndpointTest {
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  RegistryNode node;
  HealthEndpoints http;
  final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @AfterEach
  void stop() {
    try {
      if (http != null) {
        http.close();
      }
    } finally {
      if (node != null) {
        node.close();
      }
    }
  }

  HttpResponse<String> get(String path) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + http.address().getPort() + path);
    return client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The samples of a scrape whose name starts with {@code prefix}: "name{labels}" to value. */
  static Map<String, Double> samples(String scrape, String prefix) {
    Map<String, Double> out = new TreeMap<>();
    Matcher m = Pattern.compile("(?m)^(" + Pattern.quote(prefix) + "[^ ]*) ([^ ]+)$").matcher(scrape);
    while (m.find()) {
      out.put(m.group(1), Double.parseDouble(m.group(2)));
    }
    return out;
  }

  static double sample(String scrape, String name, String... labels) {
    return samples(scrape, name).entrySet().stream()
        .filter(e -> e.getKey().startsWith(name + "{") || e.getKey().equals(name))
        .filter(e -> java.util.Arrays.stream(labels).allMatch(l -> e.getKey().contains(l)))
        .mapToDouble(Map.Entry::getValue).sum();
  }

  @Test
  void theNamedSeriesAreScrapedDuringLoadMoveAndLeaveWithTheNode() throws Exception {
    PrometheusMeterRegistry metrics = Metrics.prometheus();
    String address = "127.0.0.1:" + LocalCluster.freePort();
    node = RegistryNode.builder().nodeId("m1").voter("m1", address).listenAddress(address)
        .dataDir(dir.resolve("m1")).insecure().sessionTimeout(Duration.ofSeconds(3)).meterRegistry(metrics).start();
    node.ready().get(WAIT.toSeconds(), TimeUnit.SECONDS);
    http = HealthEndpoints.start("127.0.0.1:0", node::health, node::status, metrics::scrape);
    Registry<String> names = node.registry("names", Keys.UNIQUE, ValueCodec.utf8());
    Registry<String> spread = node.registry("spread", Keys.UNIQUE, 2, ValueCodec.utf8());
    LocalProcess p = node.spawn();
    for (int i = 0; i < 50; i++) {
      names.register("k" + i, p, "v");
      spread.register("s" + i, p, "v");
    }
    names.whereisConsistent("k1");
    LocalProcess other = node.spawn();
    assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> names.register("k1", other, "taken")))
        .as("a refusal, counted as one").isNotNull();

    HttpResponse<String> first = get("/metrics");
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(first.headers().firstValue("Content-Type")).hasValue(HealthEndpoints.PROMETHEUS_TEXT);
    String before = first.body();
    assertThat(sample(before, "roster_writes_total", "node=\"m1\"", "group=\"cluster\"", "command=\"register\"",
        "result=\"ok\"")).isGreaterThanOrEqualTo(50);
    assertThat(sample(before, "roster_writes_total", "command=\"register\"", "result=\"already_registered\""))
        .isEqualTo(1);
    assertThat(sample(before, "roster_server_has_leader", "group=\"cluster\"")).isEqualTo(1);
    assertThat(sample(before, "roster_server_has_leader", "group=\"spread#1\"")).isEqualTo(1);
    assertThat(sample(before, "roster_server_proposals_committed", "group=\"cluster\"")).isPositive();
    assertThat(sample(before, "roster_server_proposals_applied", "group=\"cluster\"")).isPositive();
    assertThat(samples(before, "roster_server_apply_lag")).isNotEmpty();
    assertThat(samples(before, "roster_server_proposals_pending")).isNotEmpty();
    assertThat(sample(before, "roster_server_leader_changes_seen_total", "group=\"cluster\"")).isPositive();
    assertThat(sample(before, "roster_write_duration_seconds_count")).isGreaterThanOrEqualTo(101);
    assertThat(samples(before, "roster_write_duration_seconds_bucket")).isNotEmpty();
    assertThat(sample(before, "roster_batch_commands_count", "group=\"cluster\"")).isPositive();
    assertThat(sample(before, "roster_read_consistent_duration_seconds_count")).isEqualTo(1);
    assertThat(sample(before, "roster_read_barriers_total", "group=\"cluster\"")).isEqualTo(1);
    assertThat(sample(before, "roster_sessions_open", "group=\"cluster\"")).isEqualTo(1);
    assertThat(samples(before, "roster_messages_sent_total")).isNotEmpty();
    assertThat(samples(before, "roster_messages_dropped_total")).isNotEmpty();
    assertThat(samples(before, "roster_snapshot_duration_seconds_count")).isNotEmpty();
    assertThat(samples(before, "jvm_memory_used_bytes")).isNotEmpty();
    // Ratis' own, tagged with the node and its member: the log's fsync among them
    assertThat(samples(before, "ratis_log_worker_flushTime_count_total").keySet())
        .anySatisfy(k -> assertThat(k).contains("node=\"m1\"", "group=\"group-"));
    assertThat(samples(before, "ratis_")).hasSizeGreaterThan(20);
    Awaitility.await("registrations counted").atMost(WAIT).until(() ->
        sample(get("/metrics").body(), "roster_registrations", "registry=\"names\"", "group=\"cluster\"") == 50
            && sample(get("/metrics").body(), "roster_registrations", "registry=\"spread\"") == 50);

    HttpResponse<String> status = get("/status");
    assertThat(status.statusCode()).isEqualTo(200);
    assertThat(status.headers().firstValue("Content-Type")).hasValue("application/json");
    com.fasterxml.jackson.databind.JsonNode json = Json.mapper().readTree(status.body());
    assertThat(json.get("nodeId").asText()).isEqualTo("m1");
    assertThat(json.get("role").asText()).isEqualTo("VOTER");
    assertThat(json.get("health").get("ready").asBoolean()).isTrue();
    com.fasterxml.jackson.databind.JsonNode clusterGroup = json.get("groups").get(0);
    assertThat(clusterGroup.get("name").asText()).isEqualTo("cluster");
    assertThat(clusterGroup.get("raftRole").asText()).isEqualTo("LEADER");
    assertThat(clusterGroup.get("leader").asText()).isEqualTo("m1");
    assertThat(clusterGroup.get("term").asLong()).isPositive();
    assertThat(clusterGroup.get("commitIndex").asLong()).isGreaterThanOrEqualTo(clusterGroup.get("appliedIndex").asLong());
    assertThat(clusterGroup.get("sessionOpen").asBoolean()).isTrue();
    assertThat(clusterGroup.get("registrations").get("names").asLong()).isEqualTo(50);
    assertThat(json.get("groups")).extracting(g -> g.get("name").asText()).contains("spread#0", "spread#1");

    for (int i = 50; i < 100; i++) {
      names.register("k" + i, p, "v");
    }
    String after = get("/metrics").body();
    assertThat(sample(after, "roster_writes_total", "group=\"cluster\"", "command=\"register\"", "result=\"ok\""))
        .isEqualTo(sample(before, "roster_writes_total", "group=\"cluster\"", "command=\"register\"",
            "result=\"ok\"") + 50);
    assertThat(sample(after, "roster_server_proposals_committed", "group=\"cluster\""))
        .isGreaterThan(sample(before, "roster_server_proposals_committed", "group=\"cluster\""));

    node.close();
    assertThat(samples(get("/metrics").body(), "roster_")).as("the node's meters leave with it").isEmpty();
    assertThat(samples(get("/metrics").body(), "ratis_")).as("and Ratis' with them").isEmpty();
    node = null;
  }
}
