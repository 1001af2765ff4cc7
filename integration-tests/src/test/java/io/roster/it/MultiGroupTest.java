package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.Pid;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import io.roster.ratis.RegistryStateMachine;
import io.roster.proto.BatchResult;
import io.roster.proto.KeyMode;
import io.roster.proto.Status;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.TimeDuration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Ratis facts partitioned registries rest on, with the registry's own state machine: one
 * server per peer hosts several groups (a state machine each, its RocksDB under its group's
 * directory); groups added at run time through the group management API; peer priorities spread
 * the groups' leaders over the peers; a restarted server finds its groups on disk and catches up.
 */
class MultiGroupTest {
  static final Duration WAIT = Duration.ofSeconds(60);
  static final int PARTITIONS = 4;

  @TempDir Path dir;
  final Map<RaftPeerId, RaftServer> servers = new LinkedHashMap<>();
  final List<RaftClient> clients = new ArrayList<>();
  List<RaftPeer> peers;

  @AfterEach
  void stop() throws IOException {
    for (RaftClient c : clients) {
      c.close();
    }
    for (RaftServer s : servers.values()) {
      s.close();
    }
  }

  static RaftGroupId partition(int i) {
    return RaftGroupId.valueOf(UUID.nameUUIDFromBytes(("roster-partition-test:" + i).getBytes(StandardCharsets.UTF_8)));
  }

  /** Partition i prefers peer i mod n as its leader. */
  RaftGroup partitionGroup(int i) {
    List<RaftPeer> prioritized = new ArrayList<>();
    for (int p = 0; p < peers.size(); p++) {
      RaftPeer peer = peers.get(p);
      prioritized.add(RaftPeer.newBuilder(peer).setPriority(p == i % peers.size() ? 1 : 0).build());
    }
    return RaftGroup.valueOf(partition(i), prioritized);
  }

  RaftServer start(RaftPeer peer, RaftStorage.StartupOption option) throws IOException {
    RaftProperties p = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(p, List.of(dir.resolve(peer.getId().toString()).toFile()));
    GrpcConfigKeys.Server.setHost(p, "127.0.0.1");
    GrpcConfigKeys.Server.setPort(p, Integer.parseInt(peer.getAddress().substring(peer.getAddress().indexOf(':') + 1)));
    RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(400, TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(800, TimeUnit.MILLISECONDS));
    p.set("raft.server.log.append-entries.compose.enabled", "false");
    RaftServer server = RaftServer.newBuilder()
        .setServerId(peer.getId())
        .setProperties(p)
        .setStateMachineRegistry(group -> new RegistryStateMachine())
        .setOption(option)
        .build();
    servers.put(peer.getId(), server); // closed by stop() even if it fails to start
    server.start();
    return server;
  }

  RaftClient client(RaftGroup group) {
    RaftClient c = RaftClient.newBuilder().setProperties(new RaftProperties()).setRaftGroup(group)
        .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(100,
            TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)))
        .build();
    clients.add(c);
    return c;
  }

  BatchResult write(RaftClient c, io.roster.proto.Command... commands) throws IOException {
    RaftClientReply reply = c.io().send(Message.valueOf(UnsafeByteOperations.unsafeWrap(Codec.encode(commands))));
    assertThat(reply.isSuccess()).as("%s", reply.getException()).isTrue();
    return BatchResult.parseFrom(reply.getMessage().getContent().toByteArray());
  }

  RaftPeerId leaderOf(RaftGroupId group) {
    for (Map.Entry<RaftPeerId, RaftServer> e : servers.entrySet()) {
      try {
        if (e.getValue().getDivision(group).getInfo().isLeaderReady()) {
          return e.getKey();
        }
      } catch (IOException notHostedOrStarting) {
        // this server does not host the group (yet)
      }
    }
    return null;
  }

  @Test
  void serversHostManyGroupsWithLeadersSpreadAndFindThemAgainAfterARestart() throws Exception {
    io.roster.ratis.RatisEmbedding.init(); // a port in use is an exception, not System.exit
    for (int attempt = 0; ; attempt++) { // a port probed free may be taken before the server binds it
      peers = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
          peers.add(RaftPeer.newBuilder().setId("p" + i).setAddress("127.0.0.1:" + s.getLocalPort()).build());
        }
      }
      try {
        for (RaftPeer peer : peers) {
          start(peer, RaftStorage.StartupOption.FORMAT); // no group yet: groups are added at run time
        }
        break;
      } catch (IOException | RuntimeException e) {
        stop();
        servers.clear();
        if (attempt == 4 || !RatisCluster.causedByBind(e)) {
          throw e;
        }
      }
    }
    RaftClient admin = client(RaftGroup.valueOf(partition(0), peers));
    for (int i = 0; i < PARTITIONS; i++) {
      RaftGroup g = partitionGroup(i);
      for (RaftPeer peer : peers) {
        RaftClientReply added = admin.getGroupManagementApi(peer.getId()).add(g);
        assertThat(added.isSuccess()).as("add %s on %s: %s", g.getGroupId(), peer.getId(), added.getException())
            .isTrue();
      }
    }
    Pid pid = Pid.of("n1", 1, 1);
    for (int i = 0; i < PARTITIONS; i++) {
      RaftClient c = client(partitionGroup(i));
      BatchResult r = write(c, Commands.openSession("n1", 1), Commands.createRegistry("r", KeyMode.UNIQUE),
          Commands.register("r", "key-" + i, new byte[0], pid));
      assertThat(r.getResultsList()).allSatisfy(x -> assertThat(x.getStatus()).isEqualTo(Status.OK));
    }
    // priorities move each group's leadership to its preferred peer: leaders on more than one server
    Awaitility.await("leaders spread by priority").atMost(WAIT).until(() -> {
      Set<RaftPeerId> leaders = new HashSet<>();
      for (int i = 0; i < PARTITIONS; i++) {
        leaders.add(leaderOf(partition(i)));
      }
      return !leaders.contains(null) && leaders.size() == peers.size();
    });

    // a restarted server finds its groups on disk, with their state machines and data
    RaftPeer restarted = peers.get(2);
    servers.remove(restarted.getId()).close();
    for (int i = 0; i < PARTITIONS; i++) {
      write(client(partitionGroup(i)), Commands.register("r", "while-down-" + i, new byte[0], pid));
    }
    RaftServer again = start(restarted, RaftStorage.StartupOption.RECOVER);
    Set<RaftGroupId> hosted = new HashSet<>();
    again.getGroupIds().forEach(hosted::add);
    for (int i = 0; i < PARTITIONS; i++) {
      assertThat(hosted).contains(partition(i));
      int p = i;
      Awaitility.await("partition " + i + " caught up on the restarted server").atMost(WAIT).until(() -> {
        RegistryStateMachine sm = (RegistryStateMachine) again.getDivision(partition(p)).getStateMachine();
        return sm.mirror().whereis("r", "while-down-" + p) != null && sm.mirror().whereis("r", "key-" + p) != null;
      });
      RegistryStateMachine sm = (RegistryStateMachine) again.getDivision(partition(p)).getStateMachine();
      assertThat(sm.mirror().registrationCount()).isEqualTo(2); // each partition holds only its own keys
    }
  }
}
