package io.roster.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.RegistryNode;
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
 * The default run's fault smoke: three voter processes in network namespaces, two client nodes in
 * this JVM under a recorded workload, and one fault of each kind in turn; the history must be
 * linearizable and writes must resume after each fault. The failover times are printed, not
 * asserted (the profile {@code faults} runs many randomized runs and tabulates them).
 */
class FaultSmokeTest {
  @TempDir Path dir;
  NetCluster cluster;
  final List<RegistryNode> clients = new ArrayList<>();

  @AfterEach
  void stop() {
    clients.forEach(RegistryNode::close);
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void oneFaultOfEachKindLeavesALinearizableHistory() throws Exception {
    String missing = NetCluster.missing();
    Assumptions.assumeTrue(missing == null || System.getenv("CI") != null, missing);
    assertThat(missing).as("CI runs as root with iproute2 and nftables installed by .ci/run").isNull();
    cluster = NetCluster.start(dir, 3, List.of());
    long epoch = System.nanoTime();
    for (String id : List.of("c1", "c2")) {
      RegistryNode c = cluster.client(id, Duration.ofSeconds(15), Duration.ofSeconds(5));
      clients.add(c);
    }
    for (RegistryNode c : clients) {
      c.ready().get(120, TimeUnit.SECONDS);
    }
    Workload workload = new Workload(clients, "faults", 3, 5, epoch);
    FaultRun.Result r;
    try {
      r = FaultRun.run(cluster, clients, List.of(Nemesis.values()), Duration.ofSeconds(2), Duration.ofSeconds(4),
          workload);
    } finally {
      workload.stop();
    }
    System.out.println("fault smoke:\n" + r.table());
    assertThat(r.surprises()).as("failures that are neither an outcome nor 'unknown'").isEmpty();
    assertThat(r.report().undecided()).as("keys the checker could not decide").isEmpty();
    assertThat(r.report().anomalies()).as("non-linearizable keys").isEmpty();
    assertThat(r.ops()).isGreaterThan(100);
  }
}
