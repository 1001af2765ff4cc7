package io.roster.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.RegistryNode;
import io.roster.internal.node.Node;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The default run's fault smoke: three voter processes in network namespaces, two client nodes in
 * this JVM under a recorded workload, and one fault of each kind in turn; the history must be
 * linearizable and writes must resume after each fault. The failover times are printed, not
 * asserted (the profile {@code faults} runs many randomized runs and tabulates them). A second test
 * proves the suite can fail: with reads that skip their barrier it must find a stale read.
 */
class FaultSmokeTest {
  static Path dir;
  static NetCluster cluster;
  final List<RegistryNode> clients = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    String missing = NetCluster.missing();
    Assumptions.assumeTrue(missing == null || System.getenv("CI") != null, missing);
    assertThat(missing).as("CI runs as root with iproute2 and nftables installed by .ci/run").isNull();
    dir = Files.createTempDirectory("roster-faults");
    System.out.println("fault suite data and voter logs: " + dir);
    cluster = NetCluster.start(dir, 3, List.of());
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
    if (dir != null && !Boolean.getBoolean("roster.faults.keep")) {
      io.roster.testkit.LocalCluster.deleteTree(dir);
    }
  }

  @AfterEach
  void stopClients() {
    clients.forEach(RegistryNode::close);
  }

  private void startClients(String... ids) throws Exception {
    for (String id : ids) {
      clients.add(cluster.client(id, Duration.ofSeconds(15), Duration.ofSeconds(5)));
    }
    for (RegistryNode c : clients) {
      c.ready().get(120, TimeUnit.SECONDS);
    }
  }

  @Test
  void oneFaultOfEachKindLeavesALinearizableHistory() throws Exception {
    startClients("c1", "c2");
    long epoch = System.nanoTime();
    Workload workload = new Workload(clients, "faults", 3, 5, epoch);
    LockCounterWorkload locks = new LockCounterWorkload(clients, "faults-locks", epoch);
    FaultRun.Result r;
    try {
      r = FaultRun.run(cluster, kinds(), Duration.ofSeconds(2), Duration.ofSeconds(4), workload, locks);
    } finally {
      workload.stop();
    }
    System.out.println("fault smoke:\n" + r.table());
    assertThat(r.surprises()).as("failures that are neither an outcome nor 'unknown'").isEmpty();
    assertThat(r.report().undecided()).as("keys the checker could not decide").isEmpty();
    assertThat(r.report().anomalies()).as("non-linearizable keys").isEmpty();
    assertThat(r.ops()).isGreaterThan(100);
    assertThat(r.lockCounterViolations()).as("lock holds overlapping or out of token order, lost increments").isEmpty();
    assertThat(r.lockHolds()).isPositive();
    assertThat(r.increments()).isPositive();
    assertThat(r.faults()).filteredOn(f -> f.kind() == Nemesis.LOSE_QUORUM)
        .allSatisfy(f -> assertThat(f.firstWriteAfterInjectMs()).as("a write committed without a quorum").isEqualTo(-1));
  }

  /** Every kind, or those the property {@code roster.faults.kinds} names (kill-leader,pause-leader). */
  static List<Nemesis> kinds() {
    String only = System.getProperty("roster.faults.kinds", "");
    return only.isBlank() ? List.of(Nemesis.values()) : java.util.Arrays.stream(only.split(","))
        .map(k -> Nemesis.valueOf(k.trim().toUpperCase(java.util.Locale.ROOT).replace('-', '_'))).toList();
  }

  @Test
  void linearizableReadsWithoutTheirBarrierAreCaught() throws Exception {
    System.setProperty(Node.UNSAFE_READS_PROPERTY, "true");
    try {
      startClients("u1", "u2");
    } finally {
      System.clearProperty(Node.UNSAFE_READS_PROPERTY);
    }
    // no fault needed: a node's mirror applies another node's write a little after it commits
    Workload workload = new Workload(clients, "unsafe", 2, 2, 2, System.nanoTime());
    FaultRun.Result r;
    try {
      r = FaultRun.run(cluster, List.of(), Duration.ofSeconds(6), Duration.ZERO, workload);
    } finally {
      workload.stop();
    }
    System.out.println("reads without a barrier: " + r.report());
    assertThat(r.report().anomalies()).as("stale reads found").isNotEmpty();
  }
}
