package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.roster.AlreadyRegisteredException;
import io.roster.Consistency;
import io.roster.LocalProcess;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.RegistryUnavailableException;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The DGen.Registry surface on a real 3-voter cluster in this JVM: Ratis over loopback gRPC,
 * RocksDB under a temp dir.
 */
class ClusterRegistryTest {
  static final Duration SESSION_TIMEOUT = Duration.ofSeconds(2);
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  LocalCluster cluster;

  @BeforeEach
  void start() {
    cluster = LocalCluster.start(dir, 3, SESSION_TIMEOUT, REQUEST_TIMEOUT);
    cluster.awaitReady(WAIT);
  }

  @AfterEach
  void stop() {
    cluster.close();
  }

  Node follower() {
    Node leader = Awaitility.await("a leader").atMost(WAIT).until(cluster::leader, l -> l != null);
    return cluster.nodes().stream().filter(n -> n != leader).findFirst().orElseThrow();
  }

  @Test
  void registerOnAFollowerIsSeenByWhereisEverywhereAndConsistentlyAtOnce() {
    Node follower = follower();
    LocalProcess process = follower.spawn();
    Registry<byte[]> onFollower = follower.registry("services");
    long revision = onFollower.register("billing", process, "v1".getBytes());
    assertThat(revision).isPositive();
    for (Node n : cluster.nodes()) {
      Registry<byte[]> r = n.registry("services");
      // linearizable: right after register returned, on any node, no waiting
      assertThat(r.whereisConsistent("billing")).as("whereisConsistent on " + n.nodeId()).isEqualTo(process.pid());
      assertThat(r.whereis("billing", Consistency.atLeast(revision))).isEqualTo(process.pid());
      Awaitility.await().atMost(WAIT).until(() -> process.pid().equals(r.whereis("billing")));
      assertThat(r.lookup("billing")).singleElement().satisfies(e -> {
        assertThat(e.value()).isEqualTo("v1".getBytes());
        assertThat(e.revision()).isEqualTo(revision);
      });
    }
  }

  @Test
  void oneKeyRegisteredConcurrentlyFromThreeNodesHasExactlyOneWinner() throws Exception {
    List<Node> nodes = cluster.nodes();
    List<LocalProcess> processes = new ArrayList<>();
    List<Registry<byte[]>> registries = new ArrayList<>();
    for (Node n : nodes) {
      processes.add(n.spawn());
      registries.add(n.registry("singletons"));
    }
    CountDownLatch go = new CountDownLatch(1);
    List<CompletableFuture<Long>> attempts = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      int node = i;
      attempts.add(CompletableFuture.supplyAsync(() -> {
        try {
          go.await();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
        return registries.get(node).register("scheduler", processes.get(node));
      }));
    }
    go.countDown();
    List<Pid> winners = new ArrayList<>();
    List<Pid> reportedOwners = new ArrayList<>();
    for (int i = 0; i < attempts.size(); i++) {
      try {
        attempts.get(i).get();
        winners.add(processes.get(i).pid());
      } catch (ExecutionException e) {
        assertThat(e.getCause()).isInstanceOf(AlreadyRegisteredException.class);
        reportedOwners.add(((AlreadyRegisteredException) e.getCause()).owner());
      }
    }
    assertThat(winners).hasSize(1);
    assertThat(reportedOwners).hasSize(2).containsOnly(winners.get(0));
    for (Registry<byte[]> r : registries) {
      assertThat(r.whereisConsistent("scheduler")).isEqualTo(winners.get(0));
    }
  }

  @Test
  void processDeathRemovesItsNamesAndOnlyThose() {
    Node a = cluster.nodes().get(0);
    Node b = cluster.nodes().get(1);
    Registry<byte[]> ra = a.registry("workers");
    LocalProcess dying = a.spawn();
    LocalProcess living = a.spawn();
    LocalProcess elsewhere = b.spawn();
    ra.register("w1", dying);
    ra.register("w2", dying);
    ra.register("w3", living);
    b.registry("workers").register("w4", elsewhere);

    dying.close();
    assertThat(ra.whereis("w1")).as("hidden at once on its own node").isNull();
    for (Node n : cluster.nodes()) {
      Registry<byte[]> r = n.registry("workers");
      Awaitility.await().atMost(WAIT).until(() -> r.whereis("w1") == null && r.whereis("w2") == null);
      assertThat(r.whereisConsistent("w3")).isEqualTo(living.pid());
      assertThat(r.whereisConsistent("w4")).isEqualTo(elsewhere.pid());
    }
  }

  @Test
  void aThrowingHandlerKillsItsProcessAndRemovesItsNames() {
    Node a = cluster.nodes().get(0);
    LocalProcess fragile = a.spawn((self, message) -> {
      throw new IllegalStateException("boom");
    });
    Registry<byte[]> r = a.registry("handlers");
    r.register("fragile", fragile);
    assertThat(fragile.tell(new byte[] {1})).isTrue();
    Awaitility.await().atMost(WAIT).until(() -> !fragile.isAlive());
    assertThat(fragile.failure()).hasMessage("boom");
    Registry<byte[]> other = cluster.nodes().get(2).registry("handlers");
    Awaitility.await().atMost(WAIT).until(() -> other.whereisConsistent("fragile") == null);
  }

  @Test
  void nodeDeathWithoutGoodbyeRemovesItsNamesAfterSessionExpiry() {
    Node leader = Awaitility.await("a leader").atMost(WAIT).until(cluster::leader, l -> l != null);
    Node victim = follower();
    Node survivor = cluster.nodes().stream().filter(n -> n != leader && n != victim).findFirst().orElseThrow();
    LocalProcess doomed = victim.spawn();
    LocalProcess safe = survivor.spawn();
    victim.registry("nodes").register("on-victim", doomed);
    survivor.registry("nodes").register("on-survivor", safe);

    long crashedAt = System.nanoTime();
    cluster.crash(victim.nodeId());
    Registry<byte[]> r = leader.registry("nodes");
    assertThat(r.whereisConsistent("on-victim")).as("still registered right after the crash").isEqualTo(doomed.pid());
    Awaitility.await("session expiry").atMost(WAIT).until(() -> r.whereisConsistent("on-victim") == null);
    long tookMillis = (System.nanoTime() - crashedAt) / 1_000_000;
    // The leader counts from the last heartbeat, sent at most a third of the timeout before the crash.
    assertThat(tookMillis).as("not before the session timeout").isGreaterThanOrEqualTo(
        SESSION_TIMEOUT.toMillis() * 2 / 3 - 50);
    assertThat(r.whereisConsistent("on-survivor")).isEqualTo(safe.pid());
    assertThat(leader.members()).extracting(m -> m.nodeId()).doesNotContain(victim.nodeId());
  }

  @Test
  void killingTheLeaderElectsANewOneAndWritesResume() {
    Node oldLeader = Awaitility.await("a leader").atMost(WAIT).until(cluster::leader, l -> l != null);
    Node other = cluster.nodes().stream().filter(n -> n != oldLeader).findFirst().orElseThrow();
    Registry<byte[]> r = other.registry("failover");
    LocalProcess p = other.spawn();
    r.register("before", p);

    long killedAt = System.nanoTime();
    cluster.crash(oldLeader.nodeId());
    long revision = Awaitility.await("a write after failover").atMost(WAIT).pollInterval(Duration.ofMillis(50))
        .ignoreException(RegistryUnavailableException.class)
        .until(() -> r.register("after", p), rev -> rev > 0);
    long gapMillis = (System.nanoTime() - killedAt) / 1_000_000;
    Node newLeader = Awaitility.await("a new leader").atMost(WAIT).until(cluster::leader, l -> l != null);
    System.out.printf("failover: leader %s killed, %s elected, first write committed after %d ms (revision %d)%n",
        oldLeader.nodeId(), newLeader.nodeId(), gapMillis, revision);
    assertThat(newLeader.nodeId()).isNotEqualTo(oldLeader.nodeId());
    assertThat(r.whereisConsistent("before")).isEqualTo(p.pid());
    assertThat(r.whereisConsistent("after")).isEqualTo(p.pid());
  }

  @Test
  void aConsistentReadOnAFollowerRightAfterTheLeaderDiesWaitsForTheNextLeader() {
    Node oldLeader = Awaitility.await("a leader").atMost(WAIT).until(cluster::leader, l -> l != null);
    Node other = cluster.nodes().stream().filter(n -> n != oldLeader).findFirst().orElseThrow();
    Registry<byte[]> r = other.registry("read-failover");
    LocalProcess p = other.spawn();
    r.register("before", p);

    cluster.crash(oldLeader.nodeId());
    // reads go on through the election (the follower first asks the dead leader, then knows no
    // leader at all): each waits for the next leader within the request timeout, none fails
    long end = System.nanoTime() + REQUEST_TIMEOUT.toNanos();
    int reads = 0;
    while (System.nanoTime() < end || cluster.leader() == null) {
      assertThat(r.whereisConsistent("before")).isEqualTo(p.pid());
      reads++;
    }
    assertThat(cluster.leader()).isNotNull().isNotSameAs(oldLeader);
    System.out.printf("%d consistent reads through the failover, none failed%n", reads);
  }

  @Test
  void withoutAQuorumAWriteFailsWithUnavailableWithinItsTimeout() {
    Node last = cluster.nodes().get(2);
    Registry<byte[]> r = last.registry("quorum");
    LocalProcess p = last.spawn();
    cluster.crash(cluster.nodes().get(0).nodeId());
    cluster.crash(cluster.nodes().get(0).nodeId());
    long start = System.nanoTime();
    assertThatThrownBy(() -> r.register("lonely", p)).isInstanceOf(RegistryUnavailableException.class);
    assertThatThrownBy(() -> r.whereisConsistent("lonely")).isInstanceOf(RegistryUnavailableException.class);
    long tookMillis = (System.nanoTime() - start) / 1_000_000;
    assertThat(tookMillis).as("two calls bounded by their timeouts, not a hang")
        .isLessThan(2 * REQUEST_TIMEOUT.toMillis() + 5_000);
  }
}
