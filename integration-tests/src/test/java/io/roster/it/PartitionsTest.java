package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.roster.AlreadyRegisteredException;
import io.roster.Consistency;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.RegistryEntry;
import io.roster.RegistryEvent;
import io.roster.RegistryListener;
import io.roster.Subscription;
import io.roster.ValueCodec;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeerId;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Partitioned registries on a real 3-voter cluster with a client node: a 4-partition registry fed
 * the same commands as a 1-partition one answers every query the same, in each key mode; its
 * partitions' leaders spread over the voters; a crashed node loses its names in every partition.
 */
class PartitionsTest {
  static final Duration WAIT = Duration.ofSeconds(60);
  static final int KEYS = 12;
  static final int PROCESSES_PER_NODE = 3;
  static final int STEPS = 240;

  @TempDir Path dir;
  LocalCluster cluster;
  Node client;

  @BeforeEach
  void start() {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(10));
    cluster.awaitReady(WAIT);
    client = cluster.startClient("c1");
    client.ready().join();
  }

  @AfterEach
  void stop() {
    cluster.close();
  }

  /** One registry's twins: the same name space with 1 and with 4 partitions, as seen from one node. */
  record Twins(Registry<String> one, Registry<String> four) {
    static Twins open(Node node, String name, Keys keys) {
      return new Twins(node.registry(name + "-1", keys, 1, ValueCodec.utf8()),
          node.registry(name + "-4", keys, 4, ValueCodec.utf8()));
    }
  }

  @Test
  void uniqueFourPartitionsAnswerAsOne() {
    sameAnswers(Keys.UNIQUE, 1);
  }

  @Test
  void duplicateByPidFourPartitionsAnswerAsOne() {
    sameAnswers(Keys.DUPLICATE, 2);
  }

  @Test
  void duplicateByKeyFourPartitionsAnswerAsOne() {
    sameAnswers(Keys.DUPLICATE_BY_KEY, 3);
  }

  /**
   * Random commands from processes of a voter and of the client node, each sent to both twins in
   * turn; after every batch of steps, every query on a third node (at LINEARIZABLE) agrees, and
   * so does every write's outcome. A crashed node's names then leave every partition.
   */
  void sameAnswers(Keys keys, long seed) {
    String name = "reg-" + keys.name().toLowerCase();
    Node voter = cluster.node("n1");
    Twins onVoter = Twins.open(voter, name, keys);
    Twins onClient = Twins.open(client, name, keys);
    Twins reader = Twins.open(cluster.node("n2"), name, keys);
    assertThat(reader.four().partitions()).isEqualTo(4);
    assertThat(cluster.node("n2").partitionGroups(name + "-4")).hasSize(4);

    List<LocalProcess> processes = new ArrayList<>();
    List<Twins> owners = new ArrayList<>();
    for (int i = 0; i < PROCESSES_PER_NODE; i++) {
      processes.add(voter.spawn());
      owners.add(onVoter);
      processes.add(client.spawn());
      owners.add(onClient);
    }
    Set<Pid> everyPid = new HashSet<>();
    processes.forEach(p -> everyPid.add(p.pid()));
    Random random = new Random(seed);
    for (int step = 1; step <= STEPS; step++) {
      int who = random.nextInt(processes.size());
      LocalProcess p = processes.get(who);
      Twins on = owners.get(who);
      String key = "key-" + random.nextInt(KEYS);
      String value = "v" + random.nextInt(10);
      int op = random.nextInt(100);
      if (op < 55) {
        assertThat(outcome(() -> on.four().register(key, p, value)))
            .as("register %s by %s", key, p.pid()).isEqualTo(outcome(() -> on.one().register(key, p, value)));
      } else if (op < 70) {
        on.one().unregister(key, p).join();
        on.four().unregister(key, p).join();
      } else if (op < 78) {
        assertThat(on.four().unregisterMatch(key, p, v -> v.compareTo("v5") < 0))
            .isEqualTo(on.one().unregisterMatch(key, p, v -> v.compareTo("v5") < 0));
      } else if (op < 86 && keys == Keys.UNIQUE) {
        assertThat(on.four().updateValue(key, p, v -> v + "+").map(u -> u.newValue() + "/" + u.oldValue()))
            .isEqualTo(on.one().updateValue(key, p, v -> v + "+").map(u -> u.newValue() + "/" + u.oldValue()));
      } else if (op < 92) {
        on.one().putMeta(key, value);
        on.four().putMeta(key, value);
      } else if (op < 96) {
        // a process dies: its names go from both twins (asynchronously, from its node)
        Pid dead = p.pid();
        p.close();
        Awaitility.await("the names of dead " + dead + " are gone").atMost(WAIT).until(() ->
            reader.one().at(Consistency.LINEARIZABLE).keys(dead).isEmpty()
                && reader.four().at(Consistency.LINEARIZABLE).keys(dead).isEmpty());
        LocalProcess fresh = (on == onVoter ? voter : client).spawn();
        processes.set(who, fresh);
        everyPid.add(fresh.pid());
      } else {
        continue;
      }
      if (step % 60 == 0 || step == STEPS) {
        assertSameAnswers(reader, keys, everyPid);
      }
    }

    // a crashed node's names leave every partition once its sessions expire
    Set<Pid> clientPids = new HashSet<>();
    for (int i = 0; i < processes.size(); i++) {
      if (owners.get(i) == onClient) {
        clientPids.add(processes.get(i).pid());
      }
    }
    assertThat(clientPids.stream().mapToInt(pid -> reader.four().keys(pid).size()).sum())
        .as("the client's processes hold names in the 4-partition registry").isPositive();
    client.crash();
    Awaitility.await("the crashed client's names are gone from every partition").atMost(WAIT).until(() ->
        clientPids.stream().allMatch(pid -> reader.four().keys(pid).isEmpty() && reader.one().keys(pid).isEmpty()));
    assertSameAnswers(reader, keys, everyPid);
  }

  /** What a write did, comparable across the twins: the revision differs, the outcome must not. */
  static String outcome(java.util.function.Supplier<Long> write) {
    try {
      return write.get() > 0 ? "ok" : "no revision";
    } catch (AlreadyRegisteredException e) {
      return "taken by " + e.owner();
    }
  }

  static void assertSameAnswers(Twins t, Keys keys, Set<Pid> pids) {
    Registry<String> one = t.one().at(Consistency.LINEARIZABLE);
    Registry<String> four = t.four().at(Consistency.LINEARIZABLE);
    assertThat(four.count()).as("count").isEqualTo(one.count());
    assertThat(sorted(four.select(e -> true, PartitionsTest::text))).as("select all")
        .isEqualTo(sorted(one.select(e -> true, PartitionsTest::text)));
    assertThat(sorted(four.select(e -> e.value().startsWith("v3"), e -> e.key() + "=" + e.value())))
        .as("select with a guard and a body")
        .isEqualTo(sorted(one.select(e -> e.value().startsWith("v3"), e -> e.key() + "=" + e.value())));
    assertThat(four.countSelect(e -> e.value().compareTo("v4") > 0)).as("countSelect")
        .isEqualTo(one.countSelect(e -> e.value().compareTo("v4") > 0));
    for (int k = 0; k < KEYS; k++) {
      String key = "key-" + k;
      List<String> lookupOne = sorted(one.lookup(key).stream().map(PartitionsTest::text).toList());
      assertThat(sorted(four.lookup(key).stream().map(PartitionsTest::text).toList())).as("lookup %s", key)
          .isEqualTo(lookupOne);
      if (keys == Keys.DUPLICATE) { // entries span partitions: an owner is found when there is one
        Pid owner = four.whereis(key);
        assertThat(owner == null).as("whereis %s", key).isEqualTo(one.whereis(key) == null);
        if (owner != null) {
          assertThat(one.lookup(key)).extracting(RegistryEntry::pid).contains(owner);
        }
      } else { // one partition holds the key, in the same order as the single partition
        assertThat(four.whereis(key)).as("whereis %s", key).isEqualTo(one.whereis(key));
        assertThat(four.lookup(key).stream().map(PartitionsTest::text).toList()).as("lookup order %s", key)
            .isEqualTo(one.lookup(key).stream().map(PartitionsTest::text).toList());
      }
      assertThat(sorted(four.match(key, v -> v.compareTo("v5") >= 0).stream().map(PartitionsTest::text).toList()))
          .as("match %s", key)
          .isEqualTo(sorted(one.match(key, v -> v.compareTo("v5") >= 0).stream().map(PartitionsTest::text).toList()));
      assertThat(four.countMatch(key, v -> v.endsWith("+"))).as("countMatch %s", key)
          .isEqualTo(one.countMatch(key, v -> v.endsWith("+")));
      assertThat(dispatched(four, key, true)).as("dispatch %s", key).isEqualTo(dispatched(one, key, false));
      assertThat(four.meta(key)).as("meta %s", key).isEqualTo(one.meta(key));
      for (Pid pid : pids) {
        assertThat(four.values(key, pid)).as("values %s %s", key, pid).isEqualTo(one.values(key, pid));
      }
    }
    for (Pid pid : pids) {
      assertThat(sorted(four.keys(pid))).as("keys %s", pid).isEqualTo(sorted(one.keys(pid)));
    }
  }

  static List<String> dispatched(Registry<String> r, String key, boolean parallel) {
    List<String> seen = new CopyOnWriteArrayList<>();
    boolean invoked = r.dispatch(key, entries -> entries.forEach(e -> seen.add(text(e))), parallel);
    assertThat(invoked).isEqualTo(!seen.isEmpty());
    return sorted(seen);
  }

  static String text(RegistryEntry<String> e) {
    return e.key() + " " + e.pid() + " " + e.value();
  }

  static List<String> sorted(List<String> list) {
    return list.stream().sorted().toList();
  }

  @Test
  void leadersOfFourPartitionsSpreadOverTheVoters() {
    Registry<String> r = cluster.node("n1").registry("spread", Keys.UNIQUE, 4, ValueCodec.utf8());
    LocalProcess p = cluster.node("n1").spawn();
    for (int i = 0; i < 20; i++) {
      r.register("k" + i, p, "x");
    }
    List<RaftGroup> groups = cluster.node("n1").partitionGroups("spread");
    assertThat(groups).hasSize(4).doesNotHaveDuplicates();
    Awaitility.await("partition leaders on more than one voter").atMost(WAIT).until(() -> {
      Set<RaftPeerId> leaders = new HashSet<>();
      for (RaftGroup g : groups) {
        RaftPeerId leader = leaderOf(g);
        if (leader == null) {
          return false;
        }
        leaders.add(leader);
      }
      return leaders.size() > 1;
    });
    // every partition got some of the keys, and each holds only its own
    for (RaftGroup g : groups) {
      Awaitility.await().atMost(WAIT).until(() -> stateMachineOf(cluster.node("n2"), g) != null);
    }
    Awaitility.await("every registration reached n2").atMost(WAIT).until(() -> {
      int total = 0;
      for (RaftGroup g : groups) {
        total += (int) stateMachineOf(cluster.node("n2"), g).mirror().registrationCount();
      }
      return total == 20;
    });
    assertThat(groups).allSatisfy(g -> assertThat(stateMachineOf(cluster.node("n2"), g).mirror().registrationCount())
        .as("keys spread to %s", g.getGroupId()).isPositive());
    // the cluster's group keeps the descriptor and refuses the entries themselves
    assertThat(cluster.node("n2").mirror().registry("spread").partitions()).isEqualTo(4);
    assertThat(cluster.node("n2").mirror().registryState("spread").size()).isZero();
  }

  /**
   * While new partition groups elect, a voter's session keeper learns each group's leader from its own
   * Raft server and asks no one; a client node probes the voters (with pauses that grow). Every keeper
   * once probed every voter every 50 ms, hundreds of requests a second at the voters that were electing.
   */
  @Test
  void votersLearnANewPartitionsLeaderFromRaftWithoutProbing() {
    cluster.node("n1").registry("probed", Keys.UNIQUE, 4, ValueCodec.utf8()); // a voter creates it
    Registry<String> r = client.registry("probed", Keys.UNIQUE, 4, ValueCodec.utf8());
    LocalProcess p = client.spawn();
    for (int i = 0; i < 16; i++) {
      r.register("k" + i, p, "x");
    }
    assertThat(client.leaderProbesSent()).as("the client node's probes for the new groups' leaders").isPositive();
    for (Node n : cluster.nodes()) {
      if (n.raftServer() != null) {
        assertThat(n.leaderProbesSent()).as("probes sent by voter %s", n.nodeId()).isZero();
      }
    }
  }

  RaftPeerId leaderOf(RaftGroup g) {
    for (Node n : cluster.nodes()) {
      if (n.raftServer() == null) {
        continue;
      }
      try {
        if (n.raftServer().getDivision(g.getGroupId()).getInfo().isLeaderReady()) {
          return RaftPeerId.valueOf(n.nodeId());
        }
      } catch (java.io.IOException notHostedYet) {
        // this voter has not added the partition yet
      }
    }
    return null;
  }

  static io.roster.ratis.RegistryStateMachine stateMachineOf(Node n, RaftGroup g) {
    try {
      return (io.roster.ratis.RegistryStateMachine) n.raftServer().getDivision(g.getGroupId()).getStateMachine();
    } catch (java.io.IOException notHostedYet) {
      return null;
    }
  }

  @Test
  void watchDeliversEveryPartitionsEventsInTheirOrderAndResumesPerPartition() {
    Registry<String> writer = cluster.node("n1").registry("watched", Keys.DUPLICATE, 4, ValueCodec.utf8());
    Registry<String> watcher = client.registry("watched", Keys.DUPLICATE, 4, ValueCodec.utf8());
    List<RegistryEvent<String>> events = new CopyOnWriteArrayList<>();
    RegistryListener<String> collect = events::add;
    Subscription all = watcher.watch(collect);
    List<LocalProcess> processes = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      processes.add(cluster.node("n1").spawn());
    }
    for (int i = 0; i < 40; i++) {
      writer.register("topic", processes.get(i % 8), "m" + i);
    }
    Awaitility.await("40 events").atMost(WAIT).until(() -> events.size() == 40);
    assertThat(events).extracting(RegistryEvent::partition).allSatisfy(p -> assertThat(p).isBetween(0, 3));
    assertThat(new HashSet<>(events.stream().map(RegistryEvent::partition).toList())).hasSizeGreaterThan(1);
    for (int p = 0; p < 4; p++) {
      int partition = p;
      List<Long> revisions = events.stream().filter(e -> e.partition() == partition).map(RegistryEvent::revision).toList();
      assertThat(revisions).as("partition %s in revision order", p).isSorted();
    }
    assertThatThrownBy(all::revision).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> watcher.watch(5, collect)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("watchPartition");
    all.close();

    // resuming one partition from the revision of its first event replays the rest of that partition
    RegistryEvent<String> first = events.stream().filter(e -> e.partition() == events.get(0).partition())
        .findFirst().orElseThrow();
    List<RegistryEvent<String>> resumed = new CopyOnWriteArrayList<>();
    try (Subscription one = watcher.watchPartition(first.partition(), first.revision(), resumed::add)) {
      long expected = events.stream().filter(e -> e.partition() == first.partition()).count() - 1;
      Awaitility.await("the rest of partition " + first.partition()).atMost(WAIT).until(() -> resumed.size() == expected);
      assertThat(resumed).allSatisfy(e -> assertThat(e.partition()).isEqualTo(first.partition()));
    }
    assertThatThrownBy(() -> watcher.watchPartition(4, -1, collect)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aVoterDownAtTheCreationHostsThePartitionsWhenItComesBack() {
    cluster.crash("n3");
    Registry<String> r = cluster.node("n1").registry("late", Keys.UNIQUE, 4, ValueCodec.utf8());
    LocalProcess p = cluster.node("n1").spawn();
    for (int i = 0; i < 12; i++) {
      r.register("k" + i, p, "v" + i);
    }
    r.putMeta("m", "meta");
    Node n3 = cluster.startVoter("n3");
    Registry<String> onN3 = n3.registry("late", Keys.UNIQUE, 4, ValueCodec.utf8());
    Awaitility.await("n3 hosts every partition and has their entries").atMost(WAIT).until(() ->
        onN3.count() == 12 && onN3.meta("m").isPresent());
    for (RaftGroup g : n3.partitionGroups("late")) {
      assertThat(stateMachineOf(n3, g)).as("n3 hosts %s", g.getGroupId()).isNotNull();
    }
    for (int i = 0; i < 12; i++) {
      assertThat(onN3.whereis("k" + i)).isEqualTo(p.pid());
    }
  }

  @Test
  void aSessionThatExpiresInOnePartitionEndsInEveryGroup() throws Exception {
    cluster.node("n1").registry("expiring-4", Keys.UNIQUE, 4, ValueCodec.utf8()); // a voter creates it
    Registry<String> four = client.registry("expiring-4", Keys.UNIQUE, 4, ValueCodec.utf8());
    Registry<String> one = client.registry("expiring-1", Keys.UNIQUE, ValueCodec.utf8());
    LocalProcess p = client.spawn();
    for (int i = 0; i < 8; i++) {
      four.register("k" + i, p, "v");
    }
    one.register("k", p, "v");
    Registry<String> reader4 = cluster.node("n1").registry("expiring-4", Keys.UNIQUE, 4, ValueCodec.utf8());
    Registry<String> reader1 = cluster.node("n1").registry("expiring-1", Keys.UNIQUE, ValueCodec.utf8());
    assertThat(reader4.at(Consistency.LINEARIZABLE).count()).isEqualTo(8);

    // partition 0's group alone ends the client's session there, as its leader does when it stops
    // hearing it: with the leader's own certificate, in its current term
    RaftGroup partition0 = client.partitionGroups("expiring-4").get(0);
    Node leader0 = Awaitility.await().atMost(WAIT).until(() -> cluster.nodes().stream()
        .filter(n -> n.raftServer() != null && isLeader(n, partition0)).findFirst().orElse(null), n -> n != null);
    long term = leader0.raftServer().getDivision(partition0.getGroupId()).getInfo().getCurrentTerm();
    try (org.apache.ratis.client.RaftClient admin = cluster.ratisClient(partition0, leader0.nodeId(),
        io.roster.Tls.CertRole.VOTER, org.apache.ratis.retry.RetryPolicies.retryUpToMaximumCountWithFixedSleep(50,
            org.apache.ratis.util.TimeDuration.valueOf(200, java.util.concurrent.TimeUnit.MILLISECONDS)))) {
      var reply = admin.io().send(org.apache.ratis.protocol.Message.valueOf(
          org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations.unsafeWrap(
              io.roster.schema.Codec.encode(io.roster.schema.Commands.expireSession("c1",
                  client.incarnation(), term)))));
      assertThat(reply.isSuccess()).isTrue();
    }
    // the client hears it from that partition's leader, its processes die, and its names leave every group
    Awaitility.await("the client's process dies").atMost(WAIT).until(() -> !p.isAlive());
    Awaitility.await("the client's names leave every group").atMost(WAIT).until(() ->
        reader4.at(Consistency.LINEARIZABLE).count() == 0 && reader1.whereisConsistent("k") == null);
    assertThatThrownBy(() -> one.register("again", client.spawn(), "v")).isInstanceOf(io.roster.SessionExpiredException.class);
  }

  private static boolean isLeader(Node n, RaftGroup group) {
    try {
      return n.raftServer().getDivision(group.getGroupId()).getInfo().isLeader();
    } catch (java.io.IOException notHosted) {
      return false;
    }
  }

  @Test
  void settingsAreCheckedAndRevisionsBelongToOnePartition() {
    Registry<String> r = cluster.node("n1").registry("checked", Keys.DUPLICATE, 4, ValueCodec.utf8());
    assertThatThrownBy(() -> cluster.node("n2").registry("checked", Keys.DUPLICATE, 2, ValueCodec.utf8()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> cluster.node("n2").registry("checked", Keys.DUPLICATE, 0, ValueCodec.utf8()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> cluster.node("n2").registry("checked", Keys.DUPLICATE, 65, ValueCodec.utf8()))
        .isInstanceOf(IllegalArgumentException.class);
    LocalProcess p = cluster.node("n1").spawn();
    long revision = r.register("k", p, "v");
    assertThatThrownBy(() -> r.at(Consistency.atLeast(revision))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> r.lookup("k", Consistency.atLeast(revision))).isInstanceOf(IllegalArgumentException.class);
    assertThat(r.lookup("k", Consistency.LINEARIZABLE)).hasSize(1);
    // a key of a unique partitioned registry lives in one partition: its revision can be waited for
    Registry<String> u = cluster.node("n1").registry("checked-unique", Keys.UNIQUE, 4, ValueCodec.utf8());
    long rev = u.register("k", p, "v");
    Registry<String> onClient = client.registry("checked-unique", Keys.UNIQUE, 4, ValueCodec.utf8());
    assertThat(onClient.whereis("k", Consistency.atLeast(rev))).isEqualTo(p.pid());
  }
}
