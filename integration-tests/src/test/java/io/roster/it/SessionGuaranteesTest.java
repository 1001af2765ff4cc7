package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.Consistency;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.RegistryEntry;
import io.roster.RegistryEvent;
import io.roster.Role;
import io.roster.Subscription;
import io.roster.ValueCodec;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import io.roster.schema.Revisions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Session guarantees per node: once a write returns on a node, every later read on that node sees
 * it (read-your-writes, monotonic reads), on a follower voter and on a client node, with one
 * partition and with four. Each case runs 200 times in a row with no pause between the write and
 * the read.
 */
class SessionGuaranteesTest {
  static final Duration WAIT = Duration.ofSeconds(30);
  static final int ROUNDS = 100;

  @TempDir Path dir;
  LocalCluster cluster;

  @BeforeEach
  void start() {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(5), Duration.ofSeconds(10));
    cluster.startClient("c1");
    cluster.awaitReady(WAIT);
  }

  @AfterEach
  void stop() {
    cluster.close();
  }

  /** A follower voter, or the client node: the nodes whose mirror is not the one that answered the write. */
  Node node(String where) {
    if (where.equals("client")) {
      return cluster.node("c1");
    }
    Node leader = Awaitility.await("a leader").atMost(WAIT).until(cluster::leader, l -> l != null);
    return cluster.nodes().stream().filter(n -> n.role() == Role.VOTER && n != leader).findFirst().orElseThrow();
  }

  /** The registry on {@code node}; a partitioned one is created by a voter first (a client node only opens it). */
  Registry<String> registry(Node node, String name, Keys keys, int partitions) {
    if (partitions > 1) {
      cluster.node("n1").registry(name, keys, partitions, ValueCodec.utf8());
    }
    return node.registry(name, keys, partitions, ValueCodec.utf8());
  }

  @ParameterizedTest(name = "on the {0}, {1} partition(s)")
  @CsvSource({"follower, 1", "client, 1", "follower, 4", "client, 4"})
  void registerThenAnImmediateReadOnTheSameNodeSeesIt(String where, int partitions) {
    Node n = node(where);
    Registry<String> unique = registry(n, "ryw-u", Keys.UNIQUE, partitions);
    Registry<String> duplicate = registry(n, "ryw-d", Keys.DUPLICATE, partitions);
    LocalProcess p = n.spawn();
    for (int i = 0; i < ROUNDS; i++) {
      String key = "k" + i;
      String value = "v" + i;
      long revision = unique.register(key, p, value);
      assertThat(unique.whereis(key)).as("whereis right after register #%d", i).isEqualTo(p.pid());
      assertThat(unique.lookup(key)).as("lookup right after register #%d", i).singleElement()
          .satisfies(e -> assertThat(e.value()).isEqualTo(value))
          .satisfies(e -> assertThat(e.revision()).isEqualTo(revision));
      duplicate.register(key, p, "d" + i);
      assertThat(duplicate.lookup(key)).as("duplicate lookup right after register #%d", i)
          .extracting(RegistryEntry::value).containsExactly("d" + i);
    }
  }

  @ParameterizedTest(name = "on the {0}, {1} partition(s)")
  @CsvSource({"follower, 1", "client, 1", "follower, 4", "client, 4"})
  void unregisterJoinedThenEveryReadSeesTheKeyGone(String where, int partitions) {
    Node n = node(where);
    Registry<String> r = registry(n, "ryw-unregister", Keys.UNIQUE, partitions);
    LocalProcess p = n.spawn();
    for (int i = 0; i < ROUNDS; i++) {
      String key = "k" + i;
      long registered = r.register(key, p, "v");
      long removed = r.unregister(key, p).join();
      assertThat(removed).isGreaterThan(registered);
      assertThat(r.whereis(key)).as("local whereis after unregister #%d", i).isNull();
      // a read at a revision (no overlay: the mirror itself) sees the removal too
      assertThat(r.lookup(key, Consistency.atLeast(registered))).as("mirror after unregister #%d", i).isEmpty();
    }
  }

  @ParameterizedTest(name = "on the {0}, {1} partition(s)")
  @CsvSource({"follower, 1", "client, 1", "follower, 4", "client, 4"})
  void updateValueThenLookupShowsTheNewValue(String where, int partitions) {
    Node n = node(where);
    Registry<String> r = registry(n, "ryw-update", Keys.UNIQUE, partitions);
    LocalProcess p = n.spawn();
    r.register("counter", p, "0");
    for (int i = 1; i <= ROUNDS; i++) {
      Optional<io.roster.ValueUpdate<String>> update = r.updateValue("counter", p, v -> Integer.toString(
          Integer.parseInt(v) + 1));
      assertThat(update).isPresent();
      String expected = Integer.toString(i);
      assertThat(r.lookup("counter")).as("lookup right after update #%d", i).singleElement()
          .satisfies(e -> assertThat(e.value()).isEqualTo(expected));
    }
  }

  @ParameterizedTest(name = "on the {0}, {1} partition(s)")
  @CsvSource({"follower, 1", "client, 1", "follower, 4", "client, 4"})
  void spawnViaThenAnImmediateCallByNameAnswers(String where, int partitions) {
    Node n = node(where);
    Registry<String> r = registry(n, "ryw-via", Keys.UNIQUE, partitions);
    for (int i = 0; i < ROUNDS; i++) {
      String name = "agent" + i;
      LocalProcess agent = n.spawn(r.via(name), (self, mail) -> mail.reply(
          ("pong " + new String(mail.body(), StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8)));
      try {
        assertThat(agent.viaRevision()).isPositive();
        byte[] reply = r.call(name, "ping".getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(5));
        assertThat(new String(reply, StandardCharsets.UTF_8)).as("call #%d", i).isEqualTo("pong ping");
        assertThat(r.lookup(name)).singleElement().satisfies(e -> assertThat(e.revision()).isEqualTo(agent.viaRevision()));
      } finally {
        agent.close();
      }
      assertThat(r.lookup(name, Consistency.atLeast(agent.viaRevision()))).as("names of closed agent #%d", i).isEmpty();
    }
  }

  @Test
  void putMetaThenMetaShowsItOnTheClient() {
    Registry<String> r = registry(node("client"), "ryw-meta", Keys.UNIQUE, 4);
    for (int i = 0; i < ROUNDS; i++) {
      r.putMeta("m", "v" + i);
      assertThat(r.meta("m")).as("meta right after put #%d", i).contains("v" + i);
    }
  }

  @Test
  void twoRegistrationsOfOneKeyInOneEntryGetDifferentOrderedRevisions() throws Exception {
    // a node whose group commit lingers 50 ms, so that three writes sent together share an entry
    io.roster.RegistryNode.Builder b = io.roster.RegistryNode.builder().nodeId("batcher").role(Role.CLIENT)
        .requestTimeout(Duration.ofSeconds(10)).groupCommit(64, 64 * 1024, Duration.ofMillis(50))
        .tls(cluster.tls("batcher", io.roster.Tls.CertRole.CLIENT));
    cluster.voters().forEach(b::voter);
    try (io.roster.RegistryNode batcher = b.start()) {
      batcher.ready().get(30, java.util.concurrent.TimeUnit.SECONDS);
      Registry<String> r = batcher.registry("one-entry", Keys.UNIQUE, ValueCodec.utf8());
      LocalProcess first = batcher.spawn();
      LocalProcess second = batcher.spawn();
      r.register("warm", first, "w"); // the session is open and the path warm

      CompletableFuture<Long> a = r.registerAsync("k1", first, "a");
      CompletableFuture<Long> gone = r.unregister("k1", first);
      CompletableFuture<Long> c = r.registerAsync("k1", second, "c");
      long ra = a.join();
      long rgone = gone.join();
      long rc = c.join();
      assertThat(Revisions.index(ra)).as("one entry").isEqualTo(Revisions.index(rc)).isEqualTo(Revisions.index(rgone));
      assertThat(ra).isLessThan(rgone);
      assertThat(rgone).isLessThan(rc);
      assertThat(r.lookup("k1")).singleElement().satisfies(e -> {
        assertThat(e.pid()).isEqualTo(second.pid());
        assertThat(e.revision()).isEqualTo(rc);
      });

      // a watch resumed between the two registrations delivers the removal and the second one
      List<RegistryEvent<String>> events = new CopyOnWriteArrayList<>();
      try (Subscription s = cluster.node("n1").registry("one-entry", Keys.UNIQUE, ValueCodec.utf8())
          .watch(ra, events::add)) {
        Awaitility.await().atMost(WAIT).until(() -> events.size() >= 2);
        assertThat(events).extracting(RegistryEvent::type, RegistryEvent::pid, RegistryEvent::revision).containsExactly(
            org.assertj.core.groups.Tuple.tuple(RegistryEvent.Type.UNREGISTERED, first.pid(), rgone),
            org.assertj.core.groups.Tuple.tuple(RegistryEvent.Type.REGISTERED, second.pid(), rc));
        Awaitility.await().atMost(WAIT).until(() -> s.revision() >= rc);
      }
      List<RegistryEvent<String>> afterSecond = new CopyOnWriteArrayList<>();
      try (Subscription s = r.watch(rc, afterSecond::add)) {
        Awaitility.await().atMost(WAIT).until(() -> s.revision() >= Revisions.entryEnd(Revisions.index(rc)));
        assertThat(afterSecond).isEmpty();
      }
    }
  }
}
