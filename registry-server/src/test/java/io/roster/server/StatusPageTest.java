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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page at {@code /} of a real voter, rendered by a real headless Chromium (Debian's
 * package, which {@code .ci/run} installs): its script fetched {@code /status} and {@code /metrics}
 * and filled the page, and a registry named like markup shows as text. Skipped where no Chromium is
 * installed ({@code CHROMIUM} names another binary). {@code -Droster.statusPage.screenshot=FILE}
 * also saves a screenshot (the README's).
 */
class StatusPageTest {
  static final Duration WAIT = Duration.ofSeconds(30);
  static final String HOSTILE = "<img src=x onerror=\"document.title='owned'\">";

  @TempDir Path dir;
  RegistryNode node;
  HealthEndpoints http;

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

  static Path chromium() {
    Path p = Path.of(System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium"));
    return Files.isExecutable(p) ? p : null;
  }

  @Test
  void aHeadlessBrowserRendersTheNodesGroupsHealthAndMetricsAsText() throws Exception {
    Path chromium = chromium();
    Assumptions.assumeTrue(chromium != null, "no Chromium installed (apt-get install chromium)");
    PrometheusMeterRegistry metrics = Metrics.prometheus();
    String address = "127.0.0.1:" + LocalCluster.freePort();
    node = RegistryNode.builder().nodeId("p1").voter("p1", address).listenAddress(address)
        .dataDir(dir.resolve("p1")).insecure().sessionTimeout(Duration.ofSeconds(3)).meterRegistry(metrics).start();
    node.ready().get(WAIT.toSeconds(), TimeUnit.SECONDS);
    http = HealthEndpoints.start("127.0.0.1:0", node::health, node::status, metrics::scrape);
    Registry<String> services = node.registry("services", Keys.UNIQUE, ValueCodec.utf8());
    Registry<String> spread = node.registry("spread", Keys.UNIQUE, 2, ValueCodec.utf8());
    Registry<String> hostile = node.registry(HOSTILE, Keys.UNIQUE, ValueCodec.utf8());
    LocalProcess p = node.spawn();
    for (int i = 0; i < 30; i++) {
      services.register("k" + i, p, "v");
      spread.register("s" + i, p, "v");
    }
    hostile.register("x", p, "v");
    services.whereisConsistent("k29");

    String base = "http://127.0.0.1:" + http.address().getPort();
    HttpResponse<String> page = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(base + "/")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
    assertThat(page.headers().firstValue("Content-Security-Policy")).hasValueSatisfying(csp ->
        assertThat(csp).contains("default-src 'none'", "script-src 'self'", "connect-src 'self'"));

    String dom = render(chromium, base + "/", null);
    assertThat(dom).contains("data-loaded=\"true\"");
    assertThat(dom).contains("Roster node <span id=\"node\">p1</span>", "VOTER");
    assertThat(dom).contains("id=\"live\">yes<", "id=\"ready\">yes<");
    assertThat(dom).contains("data-group=\"cluster\"", "data-group=\"spread#0\"", "data-group=\"spread#1\"");
    assertThat(dom).contains("<td>LEADER</td><td>p1</td>");
    assertThat(dom).contains("services 30");
    assertThat(dom).contains("id=\"registrations\">61<"); // 30 + 30 + 1, from /status
    // the hostile name is text: escaped in the DOM, no element made of it, its handler never ran
    assertThat(dom).contains("&lt;img src=x onerror=", "<title>Roster node</title>").doesNotContain("<img");

    String screenshot = System.getProperty("roster.statusPage.screenshot");
    if (screenshot != null) {
      render(chromium, base + "/", Path.of(screenshot).toAbsolutePath());
    }
  }

  /** The page's DOM after its script ran (or a screenshot of it, when {@code screenshot} is given). */
  private String render(Path chromium, String url, Path screenshot) throws Exception {
    List<String> command = new ArrayList<>(List.of(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + dir.resolve("chromium-profile"),
        "--virtual-time-budget=5000", "--window-size=1280,560"));
    command.add(screenshot == null ? "--dump-dom" : "--screenshot=" + screenshot);
    command.add(url);
    Path out = dir.resolve("chromium.out");
    Process browser = new ProcessBuilder(command).redirectOutput(out.toFile())
        .redirectError(dir.resolve("chromium.err").toFile()).start();
    try {
      assertThat(browser.waitFor(60, TimeUnit.SECONDS)).as("chromium ended").isTrue();
    } finally {
      browser.destroyForcibly();
      browser.waitFor(10, TimeUnit.SECONDS);
    }
    assertThat(browser.exitValue()).as(Files.readString(dir.resolve("chromium.err"))).isZero();
    return Files.readString(out, StandardCharsets.UTF_8);
  }
}
