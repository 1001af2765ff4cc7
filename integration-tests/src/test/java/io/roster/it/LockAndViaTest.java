package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.roster.AlreadyStartedException;
import io.roster.Consistency;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.LockTimeoutException;
import io.roster.Registry;
import io.roster.RegistryEntry;
import io.roster.ValueCodec;
import io.roster.Via;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Cluster-wide locks with fencing tokens, and via names, on a real 3-voter cluster. */
class LockAndViaTest {
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  LocalCluster cluster;

  @BeforeEach
  void start() {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(2), Duration.ofSeconds(10));
    cluster.awaitReady(WAIT);
  }

  @AfterEach
  void stop() {
    cluster.close();
  }

  Registry<String> on(String node, String registry) {
    return cluster.node(node).registry(registry, Keys.UNIQUE, ValueCodec.utf8());
  }

  @Test
  void oneHolderAtATimeAcrossNodesWithGrowingTokens() throws Exception {
    AtomicInteger inside = new AtomicInteger();
    List<Long> tokens = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<CompletableFuture<Void>> workers = new java.util.ArrayList<>();
    for (String node : List.of("n1", "n2", "n3")) {
      Registry<String> r = on(node, "locks");
      workers.add(CompletableFuture.runAsync(() -> {
        for (int i = 0; i < 5; i++) {
          r.lock("shared", token -> {
            assertThat(inside.incrementAndGet()).as("holders at once").isEqualTo(1);
            tokens.add(token);
            inside.decrementAndGet();
            return null;
          });
        }
      }));
    }
    CompletableFuture.allOf(workers.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    assertThat(tokens).hasSize(15).isSorted().doesNotHaveDuplicates();
  }

  @Test
  void aKilledHolderReleasesTheLockAndTheNextTokenIsLarger() throws Exception {
    Node n1 = cluster.node("n1");
    LocalProcess holder = n1.spawn();
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    long[] first = new long[1];
    CompletableFuture<Object> held = CompletableFuture.supplyAsync(() -> on("n1", "locks").lock("job", holder, null,
        token -> {
          first[0] = token;
          holding.countDown();
          never.await(); // the holder is killed while it works
          return null;
        }));
    assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
    assertThatThrownBy(() -> on("n2", "locks").lock("job", null, Duration.ofMillis(300), t -> t))
        .isInstanceOf(LockTimeoutException.class);
    holder.close(); // the holding process dies
    long second = on("n2", "locks").lock("job", null, WAIT, t -> t);
    assertThat(second).isGreaterThan(first[0]);
    never.countDown();
    held.handle((v, e) -> null).get(30, TimeUnit.SECONDS);
  }

  @Test
  void aCrashedHoldersNodeLosesTheLockAtSessionExpiry() throws Exception {
    Node n3 = cluster.node("n3");
    LocalProcess holder = n3.spawn();
    CountDownLatch holding = new CountDownLatch(1);
    long[] first = new long[1];
    CompletableFuture.runAsync(() -> {
      try {
        on("n3", "locks").lock("leader-job", holder, null, token -> {
          first[0] = token;
          holding.countDown();
          new CountDownLatch(1).await(); // held until the node is gone
          return null;
        });
      } catch (RuntimeException expected) {
        // the node crashed under it
      }
    });
    assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
    Registry<String> onN1 = on("n1", "locks");
    cluster.crash("n3");
    long second = onN1.lock("leader-job", null, WAIT, t -> t);
    assertThat(second).isGreaterThan(first[0]);
  }

  @Test
  void aViaNameRegistersAtSpawnAndATakenNameIsAlreadyStarted() {
    Node n1 = cluster.node("n1");
    Node n2 = cluster.node("n2");
    Via<String> name = on("n1", "agents").via("agent", "hello");
    LocalProcess agent = n1.spawn(name, null);
    assertThat(on("n2", "agents").at(Consistency.LINEARIZABLE).lookup("agent"))
        .extracting(RegistryEntry::pid, RegistryEntry::value)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(agent.pid(), "hello"));
    // the name without the value finds the same process
    assertThat(on("n2", "agents").via("agent").whereis()).isEqualTo(agent.pid());

    assertThatThrownBy(() -> n2.spawn(on("n2", "agents").via("agent"), null))
        .isInstanceOfSatisfying(AlreadyStartedException.class, e -> assertThat(e.owner()).isEqualTo(agent.pid()));
    agent.close();
    LocalProcess again = Awaitility.await().atMost(WAIT).ignoreExceptionsInstanceOf(AlreadyStartedException.class)
        .until(() -> n2.spawn(on("n2", "agents").via("agent"), null), p -> p != null);
    assertThat(on("n1", "agents").whereis("agent", Consistency.LINEARIZABLE)).isEqualTo(again.pid());
    assertThatThrownBy(() -> n1.registry("topics", Keys.DUPLICATE).via("x")).isInstanceOf(IllegalArgumentException.class);
  }
}
