package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.ConsistencyReport;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Membership;
import io.roster.Registry;
import io.roster.ValueCodec;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Voters added, removed and replaced (a wiped disk) under a running write load, in the cluster's
 * group and a 4-partition registry's groups, over real gRPC with TLS and RocksDB: no acknowledged
 * registration is lost, and the voters end with equal digests.
 */
class MembershipTest {
  static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path dir;
  LocalCluster cluster;

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void rosterVotersListsTheVotersAndHandsOverLeadershipWithAnAdminCertificateOnly() throws Exception {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(10));
    cluster.awaitReady(WAIT);
    Path admin = dir.resolve("admin");
    io.roster.testkit.CertificateAuthority.Issued ops = cluster.ca().issue("ops", io.roster.Tls.CertRole.ADMIN,
        List.of("127.0.0.1"), Duration.ofDays(1));
    ops.save(admin);
    Path client = dir.resolve("client");
    io.roster.testkit.CertificateAuthority.Issued c9 = cluster.ca().issue("c9", io.roster.Tls.CertRole.CLIENT,
        List.of("127.0.0.1"), Duration.ofDays(1));
    c9.save(client);
    String voters = "n1=" + cluster.voters().get("n1");
    Path ca = cluster.tlsDir().resolve(io.roster.testkit.CertificateAuthority.CA_FILE);

    IntegrityTest.Run list = IntegrityTest.roster("members", "list", "--voters", voters, "--tls-cert",
        ops.certFile(admin).toString(), "--tls-key", ops.keyFile(admin).toString(), "--tls-ca", ca.toString());
    assertThat(list.exit()).as(list.output()).isZero();
    assertThat(list.output()).contains("n1=" + cluster.voters().get("n1"), "n2=" + cluster.voters().get("n2"),
        "n3=" + cluster.voters().get("n3"));

    String other = cluster.leader().nodeId().equals("n2") ? "n3" : "n2";
    IntegrityTest.Run transfer = IntegrityTest.roster("leader", "transfer", "--id", other, "--voters",
        voters, "--tls-cert", ops.certFile(admin).toString(), "--tls-key", ops.keyFile(admin).toString(), "--tls-ca",
        ca.toString());
    assertThat(transfer.exit()).as(transfer.output()).isZero();
    org.awaitility.Awaitility.await().atMost(WAIT).until(() -> cluster.leader() != null
        && cluster.leader().nodeId().equals(other));

    // a client certificate may not
    IntegrityTest.Run refused = IntegrityTest.roster("members", "remove", "--id", "n1", "--voters", voters,
        "--tls-cert", c9.certFile(client).toString(), "--tls-key", c9.keyFile(client).toString(), "--tls-ca",
        ca.toString());
    assertThat(refused.exit()).isEqualTo(1);
    assertThat(refused.output()).contains("PERMISSION_DENIED");
    assertThat(cluster.node("n2").members().stream().filter(io.roster.Member::voter).map(io.roster.Member::nodeId))
        .containsExactlyInAnyOrder("n1", "n2", "n3");
  }

  @Test
  void rosterStatusShowsEveryGroupAndVoterAndTurnsDegradedWhenAVoterIsDown() throws Exception {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(10));
    cluster.awaitReady(WAIT);
    Registry<String> spread = cluster.node("n1").registry("spread", Keys.UNIQUE, 2, ValueCodec.utf8());
    LocalProcess p = cluster.node("n1").spawn();
    for (int i = 0; i < 20; i++) {
      spread.register("k" + i, p, "v");
    }
    Path admin = dir.resolve("admin");
    io.roster.testkit.CertificateAuthority.Issued ops = cluster.ca().issue("ops", io.roster.Tls.CertRole.ADMIN,
        List.of("127.0.0.1"), Duration.ofDays(1));
    ops.save(admin);
    Path ca = cluster.tlsDir().resolve(io.roster.testkit.CertificateAuthority.CA_FILE);
    List<String> reach = List.of("--voters", "n1=" + cluster.voters().get("n1") + ",n2=" + cluster.voters().get("n2"),
        "--tls-cert", ops.certFile(admin).toString(), "--tls-key", ops.keyFile(admin).toString(),
        "--tls-ca", ca.toString());

    IntegrityTest.Run table = IntegrityTest.roster(args("status", reach));
    assertThat(table.exit()).as(table.output()).isZero();
    assertThat(table.output()).contains("GROUP", "ROLE", "APPLIED", "cluster ", "spread#0", "spread#1", "LEADER",
        "FOLLOWER",
        "n1", "n2", "n3", cluster.voters().get("n3"), "healthy");

    IntegrityTest.Run json = IntegrityTest.roster(args("status", reach, "--json"));
    assertThat(json.exit()).as(json.output()).isZero();
    com.fasterxml.jackson.databind.JsonNode groups = new com.fasterxml.jackson.databind.ObjectMapper()
        .readTree(json.output()).get("groups");
    assertThat(groups).hasSize(3); // the cluster's group and two partitions
    assertThat(groups.get(0).get("cluster").asBoolean()).isTrue();
    for (com.fasterxml.jackson.databind.JsonNode g : groups) {
      assertThat(g.get("leader").asText()).isIn("n1", "n2", "n3");
      assertThat(g.get("term").asLong()).isPositive();
      assertThat(g.get("members")).hasSize(3).allSatisfy(m -> {
        assertThat(m.get("reachable").asBoolean()).isTrue();
        assertThat(m.get("appliedIndex").asLong()).isPositive();
      });
    }

    // a voter down: still answered by the others, degraded (exit 3), the voter unreachable
    String down = cluster.leader().nodeId().equals("n3") ? "n2" : "n3";
    cluster.crash(down);
    IntegrityTest.Run degraded = IntegrityTest.roster(args("status", reach, "--json"));
    assertThat(degraded.exit()).as(degraded.output()).isEqualTo(3);
    com.fasterxml.jackson.databind.JsonNode first = new com.fasterxml.jackson.databind.ObjectMapper()
        .readTree(degraded.output()).get("groups").get(0);
    assertThat(first.get("members")).anySatisfy(m -> {
      assertThat(m.get("nodeId").asText()).isEqualTo(down);
      assertThat(m.get("reachable").asBoolean()).isFalse();
      assertThat(m.get("role").asText()).isEqualTo("UNREACHABLE");
    });

    // a client certificate may not
    Path client = dir.resolve("client");
    io.roster.testkit.CertificateAuthority.Issued c9 = cluster.ca().issue("c9", io.roster.Tls.CertRole.CLIENT,
        List.of("127.0.0.1"), Duration.ofDays(1));
    c9.save(client);
    IntegrityTest.Run refused = IntegrityTest.roster("status", "--voters", "n1=" + cluster.voters().get("n1"),
        "--tls-cert", c9.certFile(client).toString(), "--tls-key", c9.keyFile(client).toString(), "--tls-ca",
        ca.toString());
    assertThat(refused.exit()).as(refused.output()).isEqualTo(1);
    assertThat(refused.output()).contains("admin certificate");
  }

  private static String[] args(String command, List<String> reach, String... more) {
    List<String> all = new java.util.ArrayList<>();
    all.add(command);
    all.addAll(reach);
    all.addAll(List.of(more));
    return all.toArray(new String[0]);
  }

  @Test
  void addRemoveAndReplaceVotersUnderLoadLoseNoAcknowledgedWrite() throws Exception {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(10));
    cluster.awaitReady(WAIT);
    Node writer = cluster.node("n3"); // in the cluster throughout
    Registry<String> plain = writer.registry("plain", Keys.UNIQUE, ValueCodec.utf8());
    Registry<String> spread = writer.registry("spread", Keys.UNIQUE, 4, ValueCodec.utf8());
    LocalProcess owner = writer.spawn();

    WriteLoad load = new WriteLoad("membership-load", plain, spread, owner);
    Map<String, Boolean> acknowledged = load.acknowledged();
    try (Membership membership = cluster.membership()) {
      org.awaitility.Awaitility.await().atMost(WAIT).until(() -> acknowledged.size() > 200);

      // add a 4th voter
      cluster.startVoter("n4", "127.0.0.1:" + LocalCluster.freePort());
      membership.addVoter("n4", cluster.voters().get("n4"));
      assertThat(membership.voters()).containsOnlyKeys("n1", "n2", "n3", "n4");
      int before = acknowledged.size();
      org.awaitility.Awaitility.await().atMost(WAIT).until(() -> acknowledged.size() > before + 200);

      // remove one
      membership.removeVoter("n1");
      cluster.stop("n1");
      cluster.forgetVoter("n1");
      assertThat(membership.voters()).containsOnlyKeys("n2", "n3", "n4");
      int afterRemove = acknowledged.size();
      org.awaitility.Awaitility.await().atMost(WAIT).until(() -> acknowledged.size() > afterRemove + 200);

      // replace one whose disk is lost: same id and address, an empty data directory
      cluster.stop("n2");
      membership.removeVoter("n2");
      LocalCluster.deleteTree(dir.resolve("n2"));
      cluster.startVoter("n2");
      membership.addVoter("n2", cluster.voters().get("n2"));
      assertThat(membership.voters()).containsOnlyKeys("n2", "n3", "n4");
      int afterReplace = acknowledged.size();
      org.awaitility.Awaitility.await().atMost(WAIT).until(() -> acknowledged.size() > afterReplace + 200);
    } finally {
      load.close();
    }

    // every acknowledged registration is there, read linearizably from the replaced voter
    Node replaced = cluster.node("n2");
    Registry<String> plainThere = replaced.registry("plain", Keys.UNIQUE, ValueCodec.utf8());
    Registry<String> spreadThere = replaced.registry("spread", Keys.UNIQUE, 4, ValueCodec.utf8());
    acknowledged.forEach((key, isPlain) ->
        assertThat((isPlain ? plainThere : spreadThere).whereisConsistent(key)).as(key).isEqualTo(owner.pid()));
    // and the three voters' replicas are identical in every group
    List<ConsistencyReport> reports = writer.checkConsistency().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(reports).hasSize(5).allSatisfy(r -> {
      assertThat(r.digests()).containsOnlyKeys("n2", "n3", "n4");
      assertThat(r.diverged()).isEmpty();
    });
    System.out.printf("membership under load: %d registrations acknowledged, %d refused while a change was under way%n",
        acknowledged.size(), load.refused());

    // a partitioned registry created now: the voters were started with three different lists (n3
    // with n1-n3, n4 with n1-n4, n2 with n2-n4), yet every partition group starts with the same
    // configuration, the cluster group's, recorded with the registry
    Registry<String> late = cluster.node("n4").registry("late", Keys.UNIQUE, 2, ValueCodec.utf8());
    for (Node voter : List.of(cluster.node("n2"), cluster.node("n3"), cluster.node("n4"))) {
      voter.registry("late", Keys.UNIQUE, 2, ValueCodec.utf8()); // lists its partition groups here
      assertThat(voter.mirror().registry("late").voters()).as("recorded with the registry")
          .containsOnlyKeys("n2", "n3", "n4");
      assertThat(voter.partitionGroups("late")).hasSize(2);
      for (org.apache.ratis.protocol.RaftGroup g : voter.partitionGroups("late")) {
        assertThat(voter.raftServer().getDivision(g.getGroupId()).getRaftConf().getCurrentPeers())
            .as("%s's first configuration of %s", voter.nodeId(), g.getGroupId())
            .extracting(p -> p.getId().toString()).containsExactlyInAnyOrder("n2", "n3", "n4");
      }
    }
    LocalProcess p = cluster.node("n4").spawn();
    for (int i = 0; i < 8; i++) {
      late.register("late-" + i, p, "v");
    }
    for (int i = 0; i < 8; i++) {
      assertThat(cluster.node("n2").registry("late", Keys.UNIQUE, 2, ValueCodec.utf8()).whereisConsistent("late-" + i))
          .isEqualTo(p.pid());
    }
  }

  /**
   * A voter replaced under its old id replays, in each group, a log in which it was removed; the
   * leader admits it again only once it has caught up. Here the leader is slow to do so: every
   * request to n2 in a group is held back for 2 s from the first that admits it. Had n2 hosted the
   * groups with itself in their first configuration (the cluster's group: started without joining;
   * the partitions': not knowing it joined late), its election timer would run during the replay,
   * time out past the entry that removed it, and Ratis would shut the group down on n2 for good (its
   * mirror then stops, and the writes it reads back time out).
   */
  @Test
  void aVoterReplacedUnderItsIdKeepsItsGroupsWhenTheLeaderIsSlowToAdmitIt() throws Exception {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(10));
    cluster.awaitReady(WAIT);
    Node writer = cluster.node("n3");
    Registry<String> spread = writer.registry("spread", Keys.UNIQUE, 2, ValueCodec.utf8());
    LocalProcess owner = writer.spawn();
    for (int i = 0; i < 20; i++) {
      spread.register("before-" + i, owner, "v");
    }
    java.util.Set<org.apache.ratis.protocol.RaftGroupId> partitions = new java.util.HashSet<>();
    writer.partitionGroups("spread").forEach(g -> partitions.add(g.getGroupId()));
    java.util.Set<org.apache.ratis.protocol.RaftGroupId> groups = new java.util.HashSet<>();
    writer.raftServer().getGroupIds().forEach(groups::add); // the cluster's group and the partitions'
    AdmissionDelay delay = new AdmissionDelay(org.apache.ratis.protocol.RaftPeerId.valueOf("n2"), groups, 2_000);
    try (Membership membership = cluster.membership()) {
      cluster.stop("n2");
      membership.removeVoter("n2");
      LocalCluster.deleteTree(dir.resolve("n2"));
      for (int i = 0; i < 20; i++) {
        spread.register("between-" + i, owner, "v"); // entries after the removal
      }
      org.apache.ratis.util.CodeInjectionForTesting.put(AdmissionDelay.APPEND_ENTRIES, delay);
      cluster.startVoter("n2");
      membership.addVoter("n2", cluster.voters().get("n2"));
      org.awaitility.Awaitility.await().atMost(WAIT).until(() -> delay.released().containsAll(groups));
    } finally {
      org.apache.ratis.util.CodeInjectionForTesting.remove(AdmissionDelay.APPEND_ENTRIES);
    }

    Node replaced = cluster.node("n2");
    for (org.apache.ratis.protocol.RaftGroupId g : groups) {
      assertThat(replaced.raftServer().getDivision(g).getInfo().isAlive()).as("n2's replica of %s", g).isTrue();
    }
    Registry<String> there = replaced.registry("spread", Keys.UNIQUE, 2, ValueCodec.utf8());
    for (int i = 0; i < 20; i++) {
      spread.register("after-" + i, owner, "v");
    }
    for (String prefix : List.of("before-", "between-", "after-")) {
      for (int i = 0; i < 20; i++) {
        assertThat(there.whereisConsistent(prefix + i)).as(prefix + i).isEqualTo(owner.pid());
      }
    }

    // what n2 learned survives a restart: it became a voter of the cluster's group after 'spread' was created
    long created = replaced.mirror().registry("spread").revision();
    org.apache.ratis.protocol.RaftGroupId clusterGroup = replaced.raftGroup().getGroupId();
    cluster.stop("n2");
    Node restarted = cluster.startVoter("n2");
    io.roster.ratis.RegistryStateMachine sm = (io.roster.ratis.RegistryStateMachine)
        restarted.raftServer().getDivision(clusterGroup).getStateMachine();
    assertThat(sm.becameVoterAfter(created)).as("joined after the registry's creation, recorded across a restart")
        .isTrue();
    assertThat(java.nio.file.Files.readString(dir.resolve("n2").resolve("raft")
        .resolve(clusterGroup.getUuid().toString()).resolve(io.roster.ratis.RegistryStateMachine.MEMBERSHIP_FILE)))
        .contains("voter=true");
    // and a voter of old does not count as late
    io.roster.ratis.RegistryStateMachine old = (io.roster.ratis.RegistryStateMachine)
        writer.raftServer().getDivision(clusterGroup).getStateMachine();
    assertThat(old.becameVoterAfter(created)).isFalse();
  }

  /**
   * Holds back a peer's incoming appendEntries in some groups (Ratis' test hook, run before the
   * request is handled): from the first request of a group that admits the peer (tells it it is no
   * longer catching up, or carries the configuration that adds it) every request there waits until
   * {@code millis} after that one.
   */
  static final class AdmissionDelay implements org.apache.ratis.util.CodeInjectionForTesting.Code {
    private boolean names(List<org.apache.ratis.proto.RaftProtos.RaftPeerProto> peers) {
      return peers.stream().anyMatch(p -> p.getId().equals(peer.toByteString()));
    }

    static final String APPEND_ENTRIES = "RaftServerImpl.appendEntries";
    private final org.apache.ratis.protocol.RaftPeerId peer;
    private final java.util.Set<org.apache.ratis.protocol.RaftGroupId> groups;
    private final long millis;
    private final Map<org.apache.ratis.protocol.RaftGroupId, Long> holdUntil = new java.util.concurrent.ConcurrentHashMap<>();

    AdmissionDelay(org.apache.ratis.protocol.RaftPeerId peer, java.util.Set<org.apache.ratis.protocol.RaftGroupId> groups,
        long millis) {
      this.peer = peer;
      this.groups = groups;
      this.millis = millis;
    }

    /** The groups whose hold is over. */
    java.util.Set<org.apache.ratis.protocol.RaftGroupId> released() {
      long now = System.nanoTime();
      java.util.Set<org.apache.ratis.protocol.RaftGroupId> out = new java.util.HashSet<>();
      holdUntil.forEach((g, until) -> {
        if (now - until >= 0) {
          out.add(g);
        }
      });
      return out;
    }

    @Override
    public boolean execute(Object localId, Object remoteId, Object... args) {
      if (!peer.equals(localId) || args.length < 2
          || !(args[1] instanceof org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto r)) {
        return false;
      }
      org.apache.ratis.protocol.RaftGroupId g =
          org.apache.ratis.util.ProtoUtils.toRaftGroupId(r.getServerRequest().getRaftGroupId());
      if (!groups.contains(g)) {
        return false;
      }
      boolean admits = !r.getInitializing() || r.getEntriesList().stream().anyMatch(e -> e.hasConfigurationEntry()
          && e.getConfigurationEntry().getOldPeersCount() > 0 // a change under way: old and new voters
          && names(e.getConfigurationEntry().getPeersList()) && !names(e.getConfigurationEntry().getOldPeersList()));
      Long until = admits ? holdUntil.computeIfAbsent(g, k -> System.nanoTime() + millis * 1_000_000) : holdUntil.get(g);
      long wait = until == null ? 0 : until - System.nanoTime();
      if (wait > 0) {
        try {
          TimeUnit.NANOSECONDS.sleep(wait);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return wait > 0;
    }
  }
}
