package io.roster.it;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.ValueCodec;
import io.roster.server.Main;
import io.roster.testkit.CertificateAuthority;
import io.roster.testkit.LocalCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin CLI's reads ({@code registries list}, {@code get}, {@code list}, {@code watch},
 * {@code sessions list}, {@code check}) and its membership and leadership commands, each run as a
 * real {@code roster} process with an admin certificate against a real 3-voter TLS cluster: tables
 * asserted, {@code --json} parsed, exit codes checked.
 */
class AdminCliTest {
  static final Duration WAIT = Duration.ofSeconds(60);
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  LocalCluster cluster;
  final List<Process> started = new ArrayList<>();

  @AfterEach
  void stop() {
    started.forEach(Process::destroyForcibly);
    if (cluster != null) {
      cluster.close();
    }
  }

  /** A finished run: its exit code and its standard output and error apart. */
  record Run(int exit, String out, String err) {
    String all() {
      return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  private List<String> reach;

  @Test
  void everyAdminCommandAgainstARealCluster() throws Exception {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(10));
    cluster.awaitReady(WAIT);
    Registry<String> services = cluster.node("n1").registry("services", Keys.UNIQUE, ValueCodec.utf8());
    Registry<String> spread = cluster.node("n2").registry("spread", Keys.UNIQUE, 2, ValueCodec.utf8());
    Registry<byte[]> topics = cluster.node("n3").registry("topics", Keys.DUPLICATE, ValueCodec.bytes());
    LocalProcess p1 = cluster.node("n1").spawn();
    LocalProcess p2 = cluster.node("n2").spawn();
    LocalProcess p3 = cluster.node("n3").spawn();
    services.register("billing", p1, "v1");
    long searchRevision = services.register("search", p1, "v2");
    for (int i = 0; i < 10; i++) {
      spread.register("k" + i, p2, "s" + i);
    }
    topics.register("news", p3, new byte[] {0, 1, 2, (byte) 0xff});
    cluster.node("n3").registry("topics", Keys.DUPLICATE, ValueCodec.bytes()).register("news", p3, new byte[] {7});

    Path admin = dir.resolve("admin");
    CertificateAuthority.Issued ops = cluster.ca().issue("ops", io.roster.Tls.CertRole.ADMIN, List.of("127.0.0.1"),
        Duration.ofDays(1));
    ops.save(admin);
    Path ca = cluster.tlsDir().resolve(CertificateAuthority.CA_FILE);
    reach = List.of("--voters", "n1=" + cluster.voters().get("n1") + ",n2=" + cluster.voters().get("n2"),
        "--tls-cert", ops.certFile(admin).toString(), "--tls-key", ops.keyFile(admin).toString(),
        "--tls-ca", ca.toString());

    // a key made to move the terminal's cursor and forge a row (a client's key, in an admin's table)
    services.register("evil\u001b[31mRED\nFAKE ROW", p1, "v");

    // registries list
    Run registries = run("registries", "list");
    assertThat(registries.exit()).as(registries.all()).isZero();
    assertThat(registries.out()).containsPattern("services\\s+UNIQUE\\s+1\\s+3\\s")
        .containsPattern("spread\\s+UNIQUE\\s+2\\s+10\\s").containsPattern("topics\\s+DUPLICATE\\s+1\\s+2\\s");
    JsonNode all = JSON.readTree(run("registries", "list", "--json").out());
    assertThat(all).hasSize(3);
    assertThat(all.get(1).get("name").asText()).isEqualTo("spread");
    assertThat(all.get(1).get("partitions").asInt()).isEqualTo(2);
    assertThat(all.get(1).get("registrations").asLong()).isEqualTo(10);

    // get: found, not found (4), no such registry (2), a partitioned key, a binary value
    Run billing = run("get", "services", "billing");
    assertThat(billing.exit()).as(billing.all()).isZero();
    assertThat(billing.out()).contains("billing", p1.pid().toString(), "v1");
    JsonNode search = JSON.readTree(run("get", "services", "search", "--json").out());
    assertThat(search).hasSize(1);
    assertThat(search.get(0).get("pid").asText()).isEqualTo(p1.pid().toString());
    assertThat(search.get(0).get("revision").asLong()).isEqualTo(searchRevision);
    assertThat(new String(Base64.getDecoder().decode(search.get(0).get("value").asText()), UTF_8)).isEqualTo("v2");
    Run nobody = run("get", "services", "nobody");
    assertThat(nobody.exit()).as(nobody.all()).isEqualTo(4);
    Run noRegistry = run("get", "nosuch", "x");
    assertThat(noRegistry.exit()).as(noRegistry.all()).isEqualTo(2);
    assertThat(noRegistry.err()).contains("no registry 'nosuch'");
    Run k7 = run("get", "spread", "k7");
    assertThat(k7.exit()).as(k7.all()).isZero();
    assertThat(k7.out()).contains("k7", p2.pid().toString(), "s7");
    Run news = run("get", "topics", "news");
    assertThat(news.out()).contains("base64:AAEC/w==", "base64:Bw==");

    // list with a prefix and a limit, over both partitions
    Run listed = run("list", "spread", "--prefix", "k", "--limit", "3");
    assertThat(listed.exit()).as(listed.all()).isZero();
    assertThat(listed.out().lines().filter(l -> l.startsWith("k")).map(l -> l.split("\\s+")[0]).toList())
        .containsExactly("k0", "k1", "k2");
    assertThat(listed.out()).contains("(3 of 10; --limit for more)");
    JsonNode listing = JSON.readTree(run("list", "spread", "--prefix", "k1", "--json").out());
    assertThat(listing.get("total").asInt()).isEqualTo(1);
    assertThat(listing.get("entries").get(0).get("key").asText()).isEqualTo("k1");
    assertThat(run("list", "spread", "--limit", "0").exit()).isEqualTo(2);
    Run evil = run("list", "services", "--prefix", "evil");
    assertThat(evil.out()).contains("evil\\u001b[31mRED\\u000aFAKE ROW").doesNotContain("\u001b")
        .doesNotContain("\nFAKE ROW");
    assertThat(evil.out().lines().toList()).hasSize(2); // the header and one row

    // sessions list: every voter in the cluster's group and in both partitions
    Run sessions = run("sessions", "list", "--json");
    assertThat(sessions.exit()).as(sessions.all()).isZero();
    JsonNode open = JSON.readTree(sessions.out());
    for (String group : List.of("cluster", "spread#0", "spread#1")) {
      List<String> nodes = new ArrayList<>();
      open.forEach(s -> {
        if (s.get("group").asText().equals(group)) {
          nodes.add(s.get("nodeId").asText());
        }
      });
      assertThat(nodes).as(group).containsExactlyInAnyOrder("n1", "n2", "n3");
    }

    // watch from now: two registrations arrive, then it stops (--count)
    Process watching = start("watch", "services", "--count", "2");
    Path watchErr = dir.resolve("watch.err");
    Awaitility.await().atMost(WAIT).until(() -> Files.readString(watchErr).contains("watching services"));
    services.register("mailer", p1, "v3");
    services.unregister("billing", p1);
    assertThat(watching.waitFor(60, TimeUnit.SECONDS)).isTrue();
    String events = Files.readString(dir.resolve("watch.out"));
    assertThat(watching.exitValue()).as(events + Files.readString(watchErr)).isZero();
    assertThat(events.lines().toList()).satisfiesExactly(
        l -> assertThat(l).contains("REGISTERED", "mailer", p1.pid().toString(), "v3"),
        l -> assertThat(l).contains("UNREGISTERED", "billing"));
    // watch from a revision: the past replayed, as JSON lines
    Run replay = run("watch", "services", "--from", Long.toString(searchRevision), "--count", "3", "--json");
    assertThat(replay.exit()).as(replay.all()).isZero();
    List<JsonNode> replayed = replay.out().lines().map(l -> {
      try {
        return JSON.readTree(l);
      } catch (Exception e) {
        throw new AssertionError(l, e);
      }
    }).toList();
    assertThat(replayed).hasSize(3);
    assertThat(replayed.get(0).get("revision").asLong()).isEqualTo(searchRevision);
    assertThat(replayed.get(0).get("key").asText()).isEqualTo("search");
    assertThat(replayed.get(1).get("key").asText()).startsWith("evil\u001b"); // JSON gives keys as they are
    assertThat(replayed.get(2).get("key").asText()).isEqualTo("mailer");
    // from revision 1: the registry's whole history, its creation first
    Run fromStart = run("watch", "services", "--from", "1", "--count", "1");
    assertThat(fromStart.exit()).as(fromStart.all()).isZero();
    assertThat(fromStart.out()).contains("REGISTRY_CREATED");
    assertThat(run("watch", "spread", "--partition", "-5").exit()).isEqualTo(2);
    Run partitioned = run("watch", "spread", "--from", "1");
    assertThat(partitioned.exit()).as(partitioned.all()).isEqualTo(2);
    assertThat(partitioned.err()).contains("--partition");

    // check: a digest check in every group, every voter agrees
    JsonNode reports = JSON.readTree(run("check", "--json").out());
    assertThat(reports).hasSize(3);
    reports.forEach(r -> {
      assertThat(r.get("digests").size()).isEqualTo(3);
      assertThat(r.get("silent")).isEmpty();
    });

    // status names the partitions; members list (and its old name); leader transfer
    // (roster status naming spread#0 and spread#1: MembershipTest)
    Run members = run("members", "list");
    assertThat(members.exit()).as(members.all()).isZero();
    assertThat(members.out().lines().toList()).hasSize(3);
    String other = cluster.leader().nodeId().equals("n2") ? "n3" : "n2";
    Run transfer = run("leader", "transfer", "--id", other);
    assertThat(transfer.exit()).as(transfer.all()).isZero();
    Awaitility.await().atMost(WAIT).until(() -> cluster.leader().nodeId().equals(other));

    // members replace: a voter whose disk is lost, under its id; the new node starts once the old is removed
    // (never n2: its process p2 is read back below)
    String lost = List.of("n1", "n3").stream().filter(v -> !v.equals(cluster.leader().nodeId())).findFirst()
        .orElseThrow();
    cluster.stop(lost);
    LocalCluster.deleteTree(dir.resolve(lost));
    Process replacing = start("members", "replace", "--id", lost, "--address", cluster.voters().get(lost));
    Path replaceOut = dir.resolve("members.out");
    try {
      Awaitility.await().atMost(WAIT).failFast(() -> !replacing.isAlive())
          .until(() -> Files.readString(replaceOut).contains("voter " + lost + " removed"));
    } catch (RuntimeException e) {
      throw new AssertionError(Files.readString(replaceOut) + Files.readString(dir.resolve("members.err")), e);
    }
    cluster.startVoter(lost); // joining: an empty data directory in a formed cluster
    assertThat(replacing.waitFor(90, TimeUnit.SECONDS)).isTrue();
    assertThat(replacing.exitValue()).as(Files.readString(replaceOut) + Files.readString(dir.resolve("members.err")))
        .isZero();
    assertThat(Files.readString(replaceOut)).contains("voter " + lost + " added");
    Registry<String> there = cluster.node(lost).registry("spread", Keys.UNIQUE, 2, ValueCodec.utf8());
    Awaitility.await().atMost(WAIT).until(() -> p2.pid().equals(there.whereis("k3"))); // n2's process lives on
    Run consistent = run("check");
    assertThat(consistent.exit()).as(consistent.all()).isZero();
    assertThat(consistent.out()).contains("cluster", "spread#0", "spread#1", "consistent");

    // bad input: a voter without a port, a replacement that is a member already
    Run noPort = roster(List.of("members", "list", "--voters", "n1=127.0.0.1", "--tls-cert",
        ops.certFile(admin).toString(), "--tls-key", ops.keyFile(admin).toString(), "--tls-ca", ca.toString()));
    assertThat(noPort.exit()).as(noPort.all()).isEqualTo(2);
    assertThat(noPort.err()).contains("'127.0.0.1' is not host:port");
    String member = cluster.voters().keySet().stream().filter(v -> !v.equals(lost)).findFirst().orElseThrow();
    Run taken = run("members", "replace", "--id", lost, "--with", member, "--address", "127.0.0.1:1");
    assertThat(taken.exit()).as(taken.all()).isEqualTo(2);
    assertThat(taken.err()).contains("is a member already");
    assertThat(run("voters", "list").out().lines().toList()).hasSize(3); // nothing removed (members' old name)

    // a client's certificate reads nothing
    Path client = dir.resolve("client");
    CertificateAuthority.Issued c9 = cluster.ca().issue("c9", io.roster.Tls.CertRole.CLIENT, List.of("127.0.0.1"),
        Duration.ofDays(1));
    c9.save(client);
    Run refused = roster(List.of("list", "services", "--voters", "n1=" + cluster.voters().get("n1"), "--tls-cert",
        c9.certFile(client).toString(), "--tls-key", c9.keyFile(client).toString(), "--tls-ca", ca.toString()));
    assertThat(refused.exit()).as(refused.all()).isEqualTo(1);
    assertThat(refused.err()).contains("admin certificate");
  }

  private Run run(String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(reach);
    return roster(all);
  }

  /**
   * The JVM of a {@code roster} command: a short-lived tool, so the quick compiler only and a serial
   * collector (a third less CPU at start on this 2-core machine, where the cluster runs beside it).
   */
  static List<String> java() {
    return new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
        Main.class.getName()));
  }

  /** {@code roster args} in a process of its own, with stdout and stderr in files beside the test's data. */
  private Process start(String... args) throws Exception {
    List<String> command = java();
    command.addAll(List.of(args));
    command.addAll(reach);
    Process p = new ProcessBuilder(command).redirectOutput(dir.resolve(args[0] + ".out").toFile())
        .redirectError(dir.resolve(args[0] + ".err").toFile()).start();
    started.add(p);
    return p;
  }

  static Run roster(List<String> args) throws Exception {
    List<String> command = java();
    command.addAll(args);
    Path out = Files.createTempFile("roster", ".out");
    Path err = Files.createTempFile("roster", ".err");
    Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        throw new AssertionError("roster " + String.join(" ", args) + " did not exit within 60 s");
      }
      return new Run(process.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      process.destroyForcibly();
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }
}
