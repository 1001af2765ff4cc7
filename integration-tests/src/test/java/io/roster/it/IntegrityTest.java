package io.roster.it;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.roster.ConsistencyReport;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.RosterException;
import io.roster.ValueCodec;
import io.roster.testkit.LocalCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A voter's data on disk: a damaged store is refused, never served; a data directory keeps its
 * cluster and node identity; a voters list that contradicts it, an unknown or a duplicate id are
 * refused by {@code roster node} (a real process) with their messages.
 */
class IntegrityTest {
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  LocalCluster cluster;

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aVoterWhoseStoreHasFlippedBytesRefusesToStartNamingTheFileWhileTheOthersServeAndIsReplaced() throws Exception {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(5));
    cluster.awaitReady(WAIT);
    Registry<String> r = cluster.node("n1").registry("services", Keys.UNIQUE, ValueCodec.utf8());
    LocalProcess p = cluster.node("n1").spawn();
    for (int i = 0; i < 300; i++) {
      r.register("service-" + i, p, "value of service " + i);
    }
    org.awaitility.Awaitility.await().atMost(WAIT).until(() ->
        cluster.node("n3").registry("services", Keys.UNIQUE, ValueCodec.utf8()).whereis("service-299") != null);
    cluster.stop("n3"); // a clean stop flushes the store into SST files

    Path sst = largestSst(dir.resolve("n3"));
    io.roster.store.Damage.flip(sst);
    Throwable refused = catchThrowable(() -> cluster.startVoter("n3"));
    assertThat(refused).isInstanceOf(RosterException.class).hasMessageContaining(sst.getFileName().toString())
        .hasMessageContaining("corrupt").hasMessageContaining("Replacing a voter");

    // the other two keep serving, reads and writes
    r.register("after", p, "v");
    assertThat(cluster.node("n2").registry("services", Keys.UNIQUE, ValueCodec.utf8()).whereisConsistent("after"))
        .isEqualTo(p.pid());
    assertThat(r.whereisConsistent("service-150")).isEqualTo(p.pid());

    // replaced by the documented procedure: removed, its directory moved away, started empty, added
    try (io.roster.Membership membership = cluster.membership()) {
      membership.removeVoter("n3");
      java.nio.file.Files.move(dir.resolve("n3"), dir.resolve("n3.damaged"));
      cluster.startVoter("n3");
      membership.addVoter("n3", cluster.voters().get("n3"));
      assertThat(membership.voters()).containsOnlyKeys("n1", "n2", "n3");
    }
    // no acknowledged write lost, on the replaced voter; the three replicas' digests agree
    Registry<String> there = cluster.node("n3").registry("services", Keys.UNIQUE, ValueCodec.utf8());
    for (int i = 0; i < 300; i++) {
      assertThat(there.whereisConsistent("service-" + i)).as("service-" + i).isEqualTo(p.pid());
    }
    assertThat(there.whereisConsistent("after")).isEqualTo(p.pid());
    List<ConsistencyReport> reports = cluster.node("n3").checkConsistency()
        .get(WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    assertThat(reports).isNotEmpty().allSatisfy(report -> {
      assertThat(report.digests()).containsOnlyKeys("n1", "n2", "n3");
      assertThat(report.diverged()).isEmpty();
    });
  }

  @Test
  void aReplicaChangedBehindRaftsBackIsFoundByTheDigestCheckAndStopsServingReads() throws Exception {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(5));
    cluster.awaitReady(WAIT);
    Registry<String> r = cluster.node("n1").registry("services", Keys.UNIQUE, ValueCodec.utf8());
    LocalProcess p = cluster.node("n1").spawn();
    for (int i = 0; i < 50; i++) {
      r.register("service-" + i, p, "v" + i);
    }
    org.awaitility.Awaitility.await().atMost(WAIT).until(() ->
        cluster.node("n3").registry("services", Keys.UNIQUE, ValueCodec.utf8()).whereis("service-49") != null);
    // a clean digest check first: every replica agrees
    List<ConsistencyReport> clean = cluster.node("n1").checkConsistency()
        .get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(clean).allSatisfy(report -> {
      assertThat(report.digests()).containsOnlyKeys("n1", "n2", "n3");
      assertThat(report.diverged()).isEmpty();
    });

    // n3 loses one registration behind Raft's back: a record deleted from its store while it is down
    String group = cluster.node("n1").raftGroup().getGroupId().getUuid().toString();
    cluster.stop("n3");
    Path db = dir.resolve("n3").resolve("raft").resolve(group).resolve("db");
    try (org.rocksdb.Options o = new org.rocksdb.Options(); org.rocksdb.RocksDB raw = org.rocksdb.RocksDB.open(o, db.toString());
        org.rocksdb.RocksIterator it = raw.newIterator()) {
      byte[] victim = null;
      for (it.seek(new byte[] {'U'}); it.isValid() && it.key()[0] == 'U'; it.next()) {
        victim = it.key();
      }
      raw.delete(victim);
      raw.flush(new org.rocksdb.FlushOptions().setWaitForFlush(true));
    }
    cluster.startVoter("n3");
    Registry<String> onN3 = cluster.node("n3").registry("services", Keys.UNIQUE, ValueCodec.utf8());

    List<ConsistencyReport> found = cluster.node("n1").checkConsistency()
        .get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(found).singleElement().satisfies(report -> {
      assertThat(report.diverged()).containsExactly("n3");
      assertThat(report.digests().get("n1")).isEqualTo(report.digests().get("n2")).isEqualTo(report.majority());
    });
    // n3 judged itself against the majority: it serves no more reads; the others do
    org.awaitility.Awaitility.await().atMost(WAIT).untilAsserted(() ->
        assertThat(catchThrowable(() -> onN3.whereis("service-1"))).hasMessageContaining("diverged"));
    assertThat(r.whereisConsistent("service-1")).isEqualTo(p.pid());
    assertThat(cluster.node("n2").registry("services", Keys.UNIQUE, ValueCodec.utf8()).whereis("service-1"))
        .isEqualTo(p.pid());

    // an operator's roster check finds it too (exit 3), with an admin certificate
    Path admin = dir.resolve("admin");
    io.roster.testkit.CertificateAuthority.Issued ops = cluster.ca().issue("ops", io.roster.Tls.CertRole.ADMIN,
        List.of("127.0.0.1"), Duration.ofDays(1));
    ops.save(admin);
    AdminCliTest.Run check = AdminCliTest.roster(List.of("check", "--voters", "n1=" + cluster.voters().get("n1"),
        "--tls-cert", ops.certFile(admin).toString(), "--tls-key", ops.keyFile(admin).toString(), "--tls-ca",
        cluster.tlsDir().resolve(io.roster.testkit.CertificateAuthority.CA_FILE).toString()));
    assertThat(check.exit()).as(check.all()).isEqualTo(3);
    assertThat(check.out()).containsPattern("n3 .*DIVERGED").contains("INCONSISTENT"); // it answers its digest
  }

  @Test
  void roster_node_refusesAnotherIdentityOrContradictingVotersWithAClearMessage() throws Exception {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(5));
    cluster.awaitReady(WAIT);
    Map<String, String> voters = cluster.voters();
    cluster.close();
    cluster = null;
    String n1 = voters.get("n1");
    String list = "n1=" + n1 + ",n2=" + voters.get("n2") + ",n3=" + voters.get("n3");
    String data = dir.resolve("n1").toString();

    Run other = roster("node", "--id", "n1", "--voters", list, "--data", data, "--cluster", "other", "--insecure");
    assertThat(other.exit).isEqualTo(2);
    assertThat(other.output).contains("the data directory " + data + " belongs to node n1 of cluster 'roster', not to "
        + "node n1 of cluster 'other'");

    Run asN2 = roster("node", "--id", "n2", "--voters", list, "--data", data, "--insecure");
    assertThat(asN2.exit).isEqualTo(2);
    assertThat(asN2.output).contains("belongs to node n1 of cluster 'roster', not to node n2 of cluster 'roster'");

    Run unknown = roster("node", "--id", "n4", "--voters", list, "--data", dir.resolve("n4").toString(), "--insecure");
    assertThat(unknown.exit).isEqualTo(2);
    assertThat(unknown.output).contains("--id n4 is not one of --voters [n1, n2, n3]");

    Run twice = roster("node", "--id", "n1", "--voters", "n1=" + n1 + ",n1=127.0.0.1:1", "--data", data, "--insecure");
    assertThat(twice.exit).isEqualTo(2);
    assertThat(twice.output).contains("--voters: voter n1 is given twice");

    Run sameAddress = roster("node", "--id", "n1", "--voters", list + ",n4=" + n1, "--data", data, "--insecure");
    assertThat(sameAddress.exit).isEqualTo(2);
    assertThat(sameAddress.output).contains("voters n1 and n4 are both at " + n1);

    // n1's data under voters that are not the cluster's: n2 and n3 moved, n5 and n6 never were
    String moved = "n1=" + n1 + ",n5=127.0.0.1:" + LocalClusterPorts.free() + ",n6=127.0.0.1:" + LocalClusterPorts.free();
    Run foreign = roster("node", "--id", "n1", "--voters", moved, "--data", data, "--insecure");
    assertThat(foreign.exit).isEqualTo(2);
    assertThat(foreign.output).contains("hold no majority of the stored Raft configuration");
    // and each refusal left the directory as it was: its identity file is n1's of cluster roster
    assertThat(Files.readString(dir.resolve("n1").resolve("roster-node.properties"), UTF_8))
        .contains("cluster=roster").contains("node=n1");
  }

  /** Free ports for the test's made-up voters. */
  static final class LocalClusterPorts {
    static int free() throws IOException {
      try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
        return s.getLocalPort();
      }
    }
  }

  record Run(int exit, String output) {}


  /** Runs {@code roster args} in a JVM of its own; what it printed (stdout and stderr) and its exit code. */
  static Run roster(String... args) throws Exception {
    List<String> command = AdminCliTest.java();
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        throw new AssertionError("roster " + String.join(" ", args) + " did not exit within 60 s");
      }
      return new Run(process.exitValue(), new String(process.getInputStream().readAllBytes(), UTF_8));
    } finally {
      process.destroyForcibly();
    }
  }

  private static Path largestSst(Path root) throws IOException {
    try (Stream<Path> s = Files.walk(root)) {
      return s.filter(f -> f.toString().endsWith(".sst") && f.getParent().getFileName().toString().equals("db"))
          .max(Comparator.comparingLong(f -> f.toFile().length())).orElseThrow();
    }
  }
}
