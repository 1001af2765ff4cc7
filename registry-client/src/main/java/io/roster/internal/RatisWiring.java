package io.roster.internal;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.retry.RetryPolicy;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.util.TimeDuration;

/** Ratis settings and objects for a node; one place, so that every node agrees. */
final class RatisWiring {
  private RatisWiring() {}

  static RaftGroupId groupId(String cluster) {
    return RaftGroupId.valueOf(UUID.nameUUIDFromBytes(("roster-cluster:" + cluster).getBytes(StandardCharsets.UTF_8)));
  }

  static RaftGroup group(NodeConfig config) {
    List<RaftPeer> peers = config.voters().entrySet().stream()
        .sorted(java.util.Map.Entry.comparingByKey())
        .map(e -> RaftPeer.newBuilder().setId(e.getKey()).setAddress(e.getValue()).build())
        .toList();
    return RaftGroup.valueOf(groupId(config.cluster()), peers);
  }

  /** Server settings of a voter. */
  static RaftProperties serverProperties(NodeConfig config) {
    RaftProperties p = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(p, List.of(config.dataDir().resolve("raft").toFile()));
    GrpcConfigKeys.Server.setHost(p, NodeConfig.host(config.listenAddress()));
    GrpcConfigKeys.Server.setPort(p, NodeConfig.port(config.listenAddress()));
    // Elections: quick enough for a visible failover, slow enough not to flap on a loaded 2-core box.
    RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(500, TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(1000, TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, 50_000);
    RaftServerConfigKeys.Snapshot.setRetentionFileNum(p, 2);
    // Bounded log: purge up to the snapshot; a follower behind it gets the snapshot installed.
    RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
    p.set("raft.server.log.append-entries.compose.enabled", "false");
    GrpcConfigKeys.setMessageSizeMax(p, MESSAGE_BYTES_MAX);
    return p;
  }

  /**
   * The client a client node's change stream uses: one try per call (the stream moves to another
   * voter itself), with room for the long poll.
   */
  static RaftClient streamClient(RaftGroup group, NodeConfig config) {
    RaftProperties p = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(10, TimeUnit.SECONDS));
    GrpcConfigKeys.setMessageSizeMax(p, MESSAGE_BYTES_MAX);
    return RaftClient.newBuilder()
        .setClientId(ClientId.randomId())
        .setProperties(p)
        .setRaftGroup(group)
        .setRetryPolicy(RetryPolicies.noRetry())
        .build();
  }

  /** The largest gRPC message: bounds a client's initial load of the whole state. */
  static final org.apache.ratis.util.SizeInBytes MESSAGE_BYTES_MAX = org.apache.ratis.util.SizeInBytes.valueOf("256MB");

  /**
   * A client with a bounded retry policy (Ratis' default retries forever): a few tries per
   * request-timeout window, after which the caller's own timeout reports the cluster unavailable.
   */
  static RaftClient client(RaftGroup group, NodeConfig config) {
    long timeoutMillis = config.requestTimeout().toMillis();
    RaftProperties p = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(p,
        TimeDuration.valueOf(Math.max(500, Math.min(3000, timeoutMillis / 2)), TimeUnit.MILLISECONDS));
    RetryPolicy retry = RetryPolicies.retryUpToMaximumCountWithFixedSleep(
        (int) Math.max(3, timeoutMillis / 100), TimeDuration.valueOf(100, TimeUnit.MILLISECONDS));
    return RaftClient.newBuilder()
        .setClientId(ClientId.randomId())
        .setProperties(p)
        .setRaftGroup(group)
        .setRetryPolicy(retry)
        .build();
  }
}
