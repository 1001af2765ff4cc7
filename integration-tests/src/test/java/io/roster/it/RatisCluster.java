package io.roster.it;

import io.roster.ratis.RegistryStateMachine;
import java.io.IOException;
import java.net.BindException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;
import org.awaitility.Awaitility;

/**
 * A Raft group of real peers in this JVM: Ratis over gRPC on 127.0.0.1, each peer with its own
 * RocksDB under {@code root}. Small log segments and purge up to the snapshot index, so that a
 * snapshot really removes log a lagging follower would need. Close it in a finally block.
 */
final class RatisCluster implements AutoCloseable {
  static final RaftGroupId GROUP_ID =
      RaftGroupId.valueOf(UUID.nameUUIDFromBytes("roster-it".getBytes(StandardCharsets.UTF_8)));
  private static final int START_ATTEMPTS = 5;

  private final Path root;
  private final RaftGroup group;
  private final Map<RaftPeerId, RaftServer> servers = new LinkedHashMap<>();
  private final Map<RaftPeerId, RegistryStateMachine> stateMachines = new LinkedHashMap<>();
  private final List<RaftClient> clients = new ArrayList<>();

  private RatisCluster(Path root, RaftGroup group) {
    this.root = root;
    this.group = group;
  }

  /** Starts {@code size} peers; a port taken between probe and bind makes it retry with new ports. */
  static RatisCluster start(Path root, int size) throws IOException {
    io.roster.ratis.RatisEmbedding.init(); // a port in use is an exception, not System.exit
    IOException last = null;
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      List<RaftPeer> peers = new ArrayList<>();
      List<Integer> ports = io.roster.testkit.LocalCluster.freePorts(size);
      for (int i = 0; i < size; i++) {
        peers.add(RaftPeer.newBuilder().setId("p" + i).setAddress("127.0.0.1:" + ports.get(i)).build());
      }
      RatisCluster cluster = new RatisCluster(root.resolve("attempt-" + attempt), RaftGroup.valueOf(GROUP_ID, peers));
      try {
        for (RaftPeer peer : peers) {
          cluster.startPeer(peer.getId(), RaftStorage.StartupOption.FORMAT);
        }
        return cluster;
      } catch (IOException | RuntimeException e) { // RuntimeException: Ratis' ExitException
        cluster.close();
        if (!(causedByBind(e))) {
          throw e;
        }
        last = e instanceof IOException io ? io : new IOException(e);
      }
    }
    throw last;
  }

  static boolean causedByBind(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException || String.valueOf(t.getMessage()).contains("Address already in use")) {
        return true;
      }
    }
    return false;
  }

  RaftProperties properties(RaftPeerId id) {
    RaftProperties p = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(p, List.of(root.resolve(id.toString()).toFile()));
    RaftPeer peer = group.getPeer(id);
    GrpcConfigKeys.Server.setHost(p, "127.0.0.1");
    GrpcConfigKeys.Server.setPort(p, Integer.parseInt(peer.getAddress().substring(peer.getAddress().lastIndexOf(':') + 1)));
    RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(400, TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(800, TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, false);
    RaftServerConfigKeys.Snapshot.setCreationGap(p, 1);
    RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf("16KB"));
    RaftServerConfigKeys.Log.setPurgeGap(p, 1);
    RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
    p.set("raft.server.log.append-entries.compose.enabled", "false");
    return p;
  }

  private void startPeer(RaftPeerId id, RaftStorage.StartupOption option) throws IOException {
    RegistryStateMachine sm = new RegistryStateMachine();
    RaftServer server = RaftServer.newBuilder()
        .setServerId(id)
        .setGroup(group)
        .setProperties(properties(id))
        .setStateMachine(sm)
        .setOption(option)
        .build();
    servers.put(id, server);
    stateMachines.put(id, sm);
    server.start();
  }

  List<RaftPeerId> ids() {
    return group.getPeers().stream().map(RaftPeer::getId).toList();
  }

  RaftServer server(RaftPeerId id) {
    return servers.get(id);
  }

  RegistryStateMachine stateMachine(RaftPeerId id) {
    return stateMachines.get(id);
  }

  boolean running(RaftPeerId id) {
    return servers.containsKey(id);
  }

  /** Stops a peer as a crash would look to the others (its files stay). */
  void stop(RaftPeerId id) throws IOException {
    RaftServer server = servers.remove(id);
    stateMachines.remove(id);
    if (server != null) {
      server.close();
    }
  }

  /** Starts a stopped peer again from its files. */
  void restart(RaftPeerId id) throws IOException {
    startPeer(id, RaftStorage.StartupOption.RECOVER);
  }

  RaftPeerId leader() {
    return Awaitility.await("a leader").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
        .until(this::currentLeader, l -> l != null);
  }

  private RaftPeerId currentLeader() {
    for (Map.Entry<RaftPeerId, RaftServer> e : servers.entrySet()) {
      try {
        if (e.getValue().getDivision(GROUP_ID).getInfo().isLeaderReady()) {
          return e.getKey();
        }
      } catch (IOException ignored) {
        // not started yet
      }
    }
    return null;
  }

  /** A client with a bounded retry policy (Ratis' default retries forever). */
  RaftClient client() {
    RaftClient c = RaftClient.newBuilder()
        .setProperties(new RaftProperties())
        .setRaftGroup(group)
        .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(
            100, TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)))
        .build();
    clients.add(c);
    return c;
  }

  @Override
  public void close() throws IOException {
    IOException failure = null;
    for (RaftClient c : clients) {
      try {
        c.close();
      } catch (IOException e) {
        failure = e;
      }
    }
    for (RaftPeerId id : new ArrayList<>(servers.keySet())) {
      try {
        stop(id);
      } catch (IOException e) {
        failure = e;
      }
    }
    if (failure != null) {
      throw failure;
    }
  }
}
