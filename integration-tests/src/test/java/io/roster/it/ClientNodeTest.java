package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.Role;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Client nodes: not in the Raft configuration, mirror fed by a voter's change stream, writes through the leader. */
class ClientNodeTest {
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  LocalCluster cluster;
  Node client;

  @BeforeEach
  void start() {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(5));
    client = cluster.startClient("c1");
    cluster.awaitReady(WAIT);
  }

  @AfterEach
  void stop() {
    cluster.close();
  }

  @Test
  void aClientRegistersReadsLocallyAndReadsConsistently() {
    assertThat(client.role()).isEqualTo(Role.CLIENT);
    Registry<byte[]> onClient = client.registry("svc");
    LocalProcess p = client.spawn();
    long revision = onClient.register("from-client", p, "x".getBytes());
    Node voter = cluster.node("n1");
    Registry<byte[]> onVoter = voter.registry("svc");
    assertThat(onVoter.whereisConsistent("from-client")).isEqualTo(p.pid());

    LocalProcess q = voter.spawn();
    onVoter.register("from-voter", q);
    assertThat(onClient.whereisConsistent("from-voter")).as("linearizable on a client").isEqualTo(q.pid());
    Awaitility.await().atMost(WAIT).until(() -> q.pid().equals(onClient.whereis("from-voter")));
    assertThat(client.members()).extracting(m -> m.nodeId()).contains("c1", "n1", "n2", "n3");
    assertThat(onClient.lookup("from-client")).singleElement().satisfies(e -> assertThat(e.revision()).isEqualTo(revision));

    // the client's mirror is the voters' state
    long index = voter.stateMachine().mirror().appliedIndex();
    Awaitility.await().atMost(WAIT).until(() -> client.mirror().appliedIndex() >= index);
    Awaitility.await().atMost(WAIT).untilAsserted(() ->
        assertThat(client.mirror().describe()).isEqualTo(voter.stateMachine().mirror().describe()));
  }

  /**
   * A client node's writes wait for its change stream; a stream held by a leader that freezes would
   * stall them until its poll times out, after the election. So the stream follows another voter,
   * and leaves one that becomes the leader.
   */
  @Test
  void aClientNodesChangeStreamLeavesTheVoterThatBecomesLeader() {
    Registry<byte[]> onClient = client.registry("svc");
    LocalProcess p = client.spawn();
    for (int round = 0; round < 3; round++) {
      String followed = Awaitility.await("the stream follows a voter that is not the leader").atMost(WAIT)
          .until(() -> {
            io.roster.NodeStatus.Group g = clusterGroup(client);
            return g.leader() != null && !g.leader().equals(g.mirrorSource()) ? g.mirrorSource() : null;
          }, java.util.Objects::nonNull);
      try (io.roster.Membership m = cluster.membership()) {
        m.transferLeadership(followed);
      }
      Awaitility.await(client.nodeId() + " knows that " + followed + " leads").atMost(WAIT)
          .until(() -> followed.equals(clusterGroup(client).leader()));
      Awaitility.await("the stream leaves " + followed).atMost(WAIT)
          .until(() -> clusterGroup(client).mirrorSource(), s -> s != null && !s.equals(followed));
      // and the node's writes still see themselves
      onClient.register("round-" + round, p);
      assertThat(onClient.whereis("round-" + round)).isEqualTo(p.pid());
    }
  }

  private static io.roster.NodeStatus.Group clusterGroup(Node node) {
    return node.status().groups().get(0);
  }

  @Test
  void aLiveClientKeepsItsSessionThroughLeaderCrashes() {
    Registry<byte[]> onClient = client.registry("kept");
    LocalProcess p = client.spawn();
    onClient.register("mine", p);
    for (int round = 0; round < 2; round++) {
      Node leader = Awaitility.await("a leader").atMost(WAIT).until(cluster::leader, l -> l != null);
      String id = leader.nodeId();
      cluster.crash(id); // the client's beats to it now fail; the others' must still get through
      Node back = cluster.startVoter(id);
      Awaitility.await(id + " back").atMost(WAIT).until(() -> back.ready().isDone());
      // for two session timeouts (3 s) after the crash, the live client's name stays on every voter
      Awaitility.await("the client's session outlives the crash").during(Duration.ofSeconds(6)).atMost(WAIT)
          .pollInterval(Duration.ofMillis(100))
          .until(() -> cluster.nodes().stream().filter(n -> n.role() == Role.VOTER)
              .allMatch(n -> n.mirror().whereis("kept", "mine") != null));
    }
    assertThat(onClient.whereisConsistent("mine")).isEqualTo(p.pid());
  }

  @Test
  void votersRestartedOneAtATimeKeepALiveClientsRegistrations() {
    Registry<byte[]> onClient = client.registry("durable");
    List<LocalProcess> processes = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      LocalProcess p = client.spawn();
      onClient.register("name-" + i, p);
      processes.add(p);
    }
    for (String id : List.of("n1", "n2", "n3")) {
      cluster.crash(id);
      Node restarted = cluster.startVoter(id);
      Awaitility.await(id + " back").atMost(WAIT).until(() -> restarted.ready().isDone());
      Registry<byte[]> check = restarted.registry("durable");
      Awaitility.await(id + " caught up").atMost(WAIT).ignoreExceptions()
          .until(() -> processes.get(0).pid().equals(check.whereisConsistent("name-0")));
    }
    for (int i = 0; i < processes.size(); i++) {
      String name = "name-" + i;
      assertThat(onClient.whereisConsistent(name)).as(name + " on the client").isEqualTo(processes.get(i).pid());
      assertThat(cluster.node("n2").registry("durable").whereisConsistent(name)).isEqualTo(processes.get(i).pid());
    }
    // and the client is still a member with a live session that takes writes
    LocalProcess late = client.spawn();
    onClient.register("after-restarts", late);
    assertThat(cluster.node("n1").registry("durable").whereisConsistent("after-restarts")).isEqualTo(late.pid());
  }
}
