package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.roster.LocalProcess;
import io.roster.NodeListener;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.Role;
import io.roster.SessionExpiredException;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import io.roster.proto.BatchResult;
import io.roster.proto.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sessions with a long timeout (30 s), so that what the tests show cannot come from expiry by
 * silence: unregister, a restart's new incarnation, an expiry the node learns from the leader.
 */
class SessionLifecycleTest {
  static final Duration LONG_SESSION = Duration.ofSeconds(30);
  static final Duration WAIT = Duration.ofSeconds(15); // well under the session timeout

  @TempDir Path dir;
  LocalCluster cluster;

  @BeforeEach
  void start() {
    cluster = LocalCluster.start(dir, 3, LONG_SESSION, Duration.ofSeconds(5));
    cluster.awaitReady(Duration.ofSeconds(30));
  }

  @AfterEach
  void stop() {
    cluster.close();
  }

  @Test
  void unregisterHidesTheNameAtOnceOnItsNodeAndEverywhereOnceApplied() throws Exception {
    Node a = cluster.node("n1");
    Registry<byte[]> r = a.registry("svc");
    LocalProcess p = a.spawn();
    r.register("gone-soon", p);
    CompletableFuture<Long> outcome = r.unregister("gone-soon", p);
    assertThat(r.whereis("gone-soon")).as("hidden on the calling node without waiting").isNull();
    assertThat(r.lookup("gone-soon")).isEmpty();
    long revision = outcome.get(10, TimeUnit.SECONDS);
    for (Node n : cluster.nodes()) {
      assertThat(n.registry("svc").whereisConsistent("gone-soon")).isNull();
      assertThat(n.registry("svc").whereis("gone-soon", io.roster.Consistency.atLeast(revision))).isNull();
    }
    assertThat(r.register("gone-soon", p)).as("the name is free again").isGreaterThan(revision);
  }

  @Test
  void aRestartedNodesNewIncarnationRemovesItsOldNamesAtOnce() {
    Node n3 = cluster.node("n3");
    LocalProcess old = n3.spawn();
    n3.registry("svc").register("on-n3", old);
    long oldIncarnation = n3.incarnation();
    cluster.crash("n3");
    Node restarted = cluster.startVoter("n3");
    assertThat(restarted.incarnation()).isGreaterThan(oldIncarnation);
    Registry<byte[]> onN1 = cluster.node("n1").registry("svc");
    // far sooner than the 30 s session timeout: opening the new session removed the old entries
    Awaitility.await().atMost(WAIT).until(() -> onN1.whereisConsistent("on-n3") == null);
    assertThat(cluster.node("n1").members()).filteredOn(m -> m.nodeId().equals("n3"))
        .singleElement().satisfies(m -> assertThat(m.incarnation()).isEqualTo(restarted.incarnation()));
  }

  @Test
  void aNodeToldItsSessionExpiredTellsTheApplicationAndRefusesWrites() throws Exception {
    CompletableFuture<Long> told = new CompletableFuture<>();
    Node client = (Node) builder("c9").listener(new NodeListener() {
      @Override
      public void sessionExpired(String nodeId, long incarnation) {
        told.complete(incarnation);
      }
    }).start();
    try {
      client.ready().get(30, TimeUnit.SECONDS);
      Registry<byte[]> r = client.registry("svc");
      LocalProcess p = client.spawn();
      r.register("client-name", p);

      // What a leader does when a partitioned node stays silent: expire its session, in its term.
      assertThat(expireAsTheLeader("c9", client.incarnation())).isEqualTo(Status.OK);

      assertThat(told.get(15, TimeUnit.SECONDS)).isEqualTo(client.incarnation());
      assertThat(p.isAlive()).as("its processes die with the session").isFalse();
      assertThat(cluster.node("n1").registry("svc").whereisConsistent("client-name")).isNull();
      assertThatThrownBy(() -> r.register("again", client.spawn())).isInstanceOf(SessionExpiredException.class);
    } finally {
      client.close();
    }
  }

  @Test
  void aVoterWhoseSessionExpiredRejoinsAsANewIncarnationInEveryGroup() throws Exception {
    Registry<byte[]> parts = cluster.node("n1").registry("parts", io.roster.Keys.UNIQUE, 2,
        io.roster.ValueCodec.bytes());
    for (String id : List.of(follower(), cluster.leader().nodeId())) { // a follower's session, then the leader's own
      Node voter = cluster.node(id);
      LocalProcess p = voter.spawn();
      voter.registry("svc").register("on-" + id, p);
      Registry<byte[]> partsThere = voter.registry("parts", io.roster.Keys.UNIQUE, 2, io.roster.ValueCodec.bytes());
      for (int i = 0; i < 4; i++) {
        partsThere.register(id + "-" + i, p); // in both partitions
      }
      long lost = voter.incarnation();

      assertThat(expireAsTheLeader(id, lost)).isEqualTo(Status.OK); // in the cluster's group

      Awaitility.await().atMost(WAIT).until(() -> voter.incarnation() > lost);
      voter.ready().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(p.isAlive()).as("its processes died with the session").isFalse();
      Registry<byte[]> svc = cluster.node("n1").registry("svc");
      assertThat(svc.whereisConsistent("on-" + id)).isNull();
      for (int i = 0; i < 4; i++) { // the new session superseded the old one in the partitions too
        String key = id + "-" + i;
        Awaitility.await().atMost(WAIT).until(() -> parts.whereisConsistent(key) == null);
      }
      // it works again, as the new incarnation, in every group
      LocalProcess q = voter.spawn();
      assertThat(q.pid().incarnation()).isEqualTo(voter.incarnation());
      voter.registry("svc").register("again-" + id, q);
      for (int i = 0; i < 4; i++) {
        partsThere.register(id + "-again-" + i, q); // waits for the new session in that partition
      }
      assertThat(svc.whereisConsistent("again-" + id)).isEqualTo(q.pid());
      assertThat(cluster.node("n1").members()).filteredOn(m -> m.nodeId().equals(id))
          .singleElement().satisfies(m -> assertThat(m.incarnation()).isEqualTo(voter.incarnation()));
    }
  }

  private String follower() {
    Node leader = Awaitility.await().atMost(Duration.ofSeconds(30)).until(cluster::leader, l -> l != null);
    return List.of("n1", "n2", "n3").stream().filter(id -> !id.equals(leader.nodeId())).findFirst().orElseThrow();
  }

  private RegistryNode.Builder builder(String id) {
    RegistryNode.Builder b = RegistryNode.builder().nodeId(id).role(Role.CLIENT).sessionTimeout(LONG_SESSION)
        .tls(cluster.tls(id, io.roster.Tls.CertRole.CLIENT));
    cluster.voters().forEach(b::voter);
    return b;
  }

  /**
   * Sends the leader's expiry of a session through a plain Ratis client with the leader's own
   * certificate and its current term: the only identity that may end another node's session.
   */
  private Status expireAsTheLeader(String nodeId, long incarnation) throws Exception {
    Node leader = org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(cluster::leader, l -> l != null);
    RaftGroup group = leader.raftGroup();
    long term = leader.raftServer().getDivision(group.getGroupId()).getInfo().getCurrentTerm();
    try (RaftClient c = cluster.ratisClient(group, leader.nodeId(), io.roster.Tls.CertRole.VOTER,
        org.apache.ratis.retry.RetryPolicies.retryUpToMaximumCountWithFixedSleep(50,
            org.apache.ratis.util.TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)))) {
      RaftClientReply reply = c.io().send(Message.valueOf(UnsafeByteOperations.unsafeWrap(
          Codec.encode(Commands.expireSession(nodeId, incarnation, term)))));
      return BatchResult.parseFrom(reply.getMessage().getContent().toByteArray()).getResults(0).getStatus();
    }
  }

}
