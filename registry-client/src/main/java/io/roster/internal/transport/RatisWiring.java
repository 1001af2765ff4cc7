package io.roster.internal.transport;

import io.roster.internal.NodeConfig;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.retry.RetryPolicy;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.util.TimeDuration;

/** Ratis settings and objects for a node; one place, so that every node agrees. */
public final class RatisWiring {
  private RatisWiring() {}

  public static RaftGroupId groupId(String cluster) {
    return RaftGroupId.valueOf(UUID.nameUUIDFromBytes(("roster-cluster:" + cluster).getBytes(StandardCharsets.UTF_8)));
  }

  public static RaftGroup group(NodeConfig config) {
    List<RaftPeer> peers = config.voters().entrySet().stream()
        .sorted(java.util.Map.Entry.comparingByKey())
        .map(e -> RaftPeer.newBuilder().setId(e.getKey()).setAddress(e.getValue()).build())
        .toList();
    return RaftGroup.valueOf(groupId(config.cluster()), peers);
  }

  /**
   * Partition {@code index} of a partitioned registry: a group of the cluster's voters, with its own
   * id, that prefers voter {@code index} mod the number of voters (in id order) as its leader, so the
   * partitions' leaders spread over the voters (Ratis hands leadership to the peer of highest priority).
   */
  public static RaftGroup partitionGroup(NodeConfig config, String registry, int index, java.util.Map<String, String> voters) {
    RaftGroupId id = partitionGroupId(config.cluster(), registry, index);
    // the voters recorded with the registry (the cluster group's when it was created), else this node's own
    List<RaftPeer> peers = voters.isEmpty()
        ? group(config).getPeers().stream().sorted(java.util.Comparator.comparing(p -> p.getId().toString())).toList()
        : new java.util.TreeMap<>(voters).entrySet().stream()
            .map(e -> RaftPeer.newBuilder().setId(e.getKey()).setAddress(e.getValue()).build()).toList();
    List<RaftPeer> prioritized = new java.util.ArrayList<>(peers.size());
    for (int p = 0; p < peers.size(); p++) {
      prioritized.add(RaftPeer.newBuilder(peers.get(p)).setPriority(p == index % peers.size() ? 1 : 0).build());
    }
    return RaftGroup.valueOf(id, prioritized);
  }

  /** The group id of partition {@code index} of registry {@code registry} in cluster {@code cluster}. */
  public static RaftGroupId partitionGroupId(String cluster, String registry, int index) {
    String name = "roster-partition:" + cluster.length() + ":" + cluster + ":" + registry + ":" + index;
    return RaftGroupId.valueOf(UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8)));
  }

  /** The Ratis parameters of a node's clients: with TLS, its mutual TLS; without, none. */
  public static Parameters clientParameters(NodeConfig config) {
    Parameters p = new Parameters();
    if (config.tls() != null) {
      GrpcConfigKeys.TLS.setConf(p, new NodeTls(config.tls(), config).ratis());
    }
    return p;
  }

  /**
   * The Ratis parameters of a voter's server: with TLS, its mutual TLS for the server, client and
   * admin endpoints, and the gate that decides who may use which service and binds each client id
   * to the identity it authenticated as in {@code identities} ({@link RaftAccess}); without, none.
   * {@code members} tells whether a node holds an open session in a group this server hosts;
   * {@code voter} whether an id is one of the cluster's voters.
   */
  public static Parameters serverParameters(NodeConfig config, io.roster.ratis.ClientIdentities identities,
      java.util.function.BiPredicate<org.apache.ratis.protocol.RaftGroupId, String> members,
      java.util.function.Predicate<String> voter, java.util.function.BiPredicate<RaftGroupId, String> groupVoter,
      java.util.function.Function<RaftGroupId, StartingGroups.State> starting, BooleanSupplier stopping) {
    Parameters p = clientParameters(config);
    NodeTls.Server tls = config.tls() != null ? new NodeTls(config.tls(), config).raftServer() : null;
    RaftAccess access = tls != null ? new RaftAccess(config.nodeId(), voter, identities, members, tls, groupVoter) : null;
    StartingGroups startingGroups = new StartingGroups(config.nodeId(), starting, stopping);
    GrpcConfigKeys.Server.setServicesCustomizer(p, (builder, types) -> {
      NodeTls.bounded(builder, RAFT_STREAMS_PER_CONNECTION);
      builder.intercept(startingGroups); // runs after the gate below: interceptors run last added first
      if (tls == null) {
        return builder;
      }
      // Ratis built the same context from the settings above; this one also never resumes a session
      return builder.sslContext(tls.context()).intercept(access);
    });
    return p;
  }

  /**
   * Streams one connection to a voter may open: a peer's appends for every group it shares (the
   * cluster's and up to {@code Limits.PARTITION_GROUPS_MAX} partitions), a client's ordered and
   * unordered streams, with room to spare.
   */
  public static final int RAFT_STREAMS_PER_CONNECTION = 1_024;

  /** A follower that hears nothing from its leader for a random time in this range stands for election. */
  static final long ELECTION_TIMEOUT_MIN_MILLIS = 250;
  static final long ELECTION_TIMEOUT_MAX_MILLIS = 500;

  /** Pauses of a leader's tries to a failing follower: 10 at 1 ms, then 100 ms from there on. */
  static final String APPENDER_RETRY_POLICY = "1ms,10, 100ms," + Integer.MAX_VALUE;

  /** Server settings of a voter. */
  public static RaftProperties serverProperties(NodeConfig config) {
    RaftProperties p = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(p, List.of(config.dataDir().resolve("raft").toFile()));
    GrpcConfigKeys.Server.setHost(p, NodeConfig.host(config.listenAddress()));
    GrpcConfigKeys.Server.setPort(p, NodeConfig.port(config.listenAddress()));
    // Elections: quick enough for a visible failover, slow enough not to flap on a loaded 2-core box.
    RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(ELECTION_TIMEOUT_MIN_MILLIS, TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(ELECTION_TIMEOUT_MAX_MILLIS, TimeUnit.MILLISECONDS));
    // A leader that stepped down (it lost its majority) sits out elections this long; Ratis' default
    // is 10 s. In a partition group its voter has the highest priority and refuses to vote for the
    // others, so with the default the group had no leader for up to 10 s after a quorum loss healed.
    RaftServerConfigKeys.LeaderElection.setLeaderStepDownWaitTime(p,
        TimeDuration.valueOf(ELECTION_TIMEOUT_MAX_MILLIS, TimeUnit.MILLISECONDS));
    // A leader retries a follower that failed after a pause that grows with its errors: Ratis' default
    // reaches 5 s after 30 errors (a few seconds of a follower down), and each INCONSISTENCY reply of a
    // restarted follower counts as one more, so a restarted voter took 17-39 s to catch up (the fault
    // suite). After 10 quick tries, 100 ms (randomized 50-150 ms) between tries, however long it lasts.
    RaftServerConfigKeys.Log.Appender.setRetryPolicy(p, APPENDER_RETRY_POLICY);
    RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, 50_000);
    RaftServerConfigKeys.Snapshot.setRetentionFileNum(p, 2);
    // Bounded log: purge up to the snapshot; a follower behind it gets the snapshot installed.
    RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
    p.set("raft.server.log.append-entries.compose.enabled", "false");
    GrpcConfigKeys.setMessageSizeMax(p, MESSAGE_BYTES_MAX);
    // The appender sends to a follower at most once per this interval. Ratis' 1 ms default makes
    // the append that carries the commit index wait, so it costs a lone write about 1 ms of its 3;
    // 100 us measured 1.5-2.3 ms instead (benchmarks: WritePath). Durability is unchanged.
    RaftServerConfigKeys.Log.Appender.setWaitTimeMin(p, TimeDuration.valueOf(100, TimeUnit.MICROSECONDS));
    return p;
  }

  /**
   * A client for a client node's change stream: one try per call (the stream moves to another voter
   * itself), each try at most {@code timeoutMillis}, so that a voter that stops answering (frozen,
   * cut off) holds the stream no longer than that.
   */
  public static RaftClient streamClient(RaftGroup group, NodeConfig config, long timeoutMillis) {
    RaftProperties p = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(timeoutMillis, TimeUnit.MILLISECONDS));
    GrpcConfigKeys.setMessageSizeMax(p, MESSAGE_BYTES_MAX);
    quiet(p);
    ClientId id = ClientId.randomId();
    org.apache.ratis.conf.Parameters parameters = clientParameters(config);
    return RaftClient.newBuilder()
        .setClientId(id)
        .setProperties(p)
        .setParameters(parameters)
        .setClientRpc(detachedResets(id, p, parameters))
        .setRaftGroup(group)
        .setRetryPolicy(RetryPolicies.noRetry())
        .build();
  }

  /**
   * The largest gRPC message a node takes: an entry is at most {@code Limits.BATCH_BYTES_MAX}
   * (8 MiB), an answer of the change stream about 4 MiB, a chunk of a dump about 4 MiB; the rest is
   * room for an entry whose changes come out larger than its commands.
   */
  public static final org.apache.ratis.util.SizeInBytes MESSAGE_BYTES_MAX = org.apache.ratis.util.SizeInBytes.valueOf("32MB");

  /**
   * A client for writes and read barriers, with a retry policy sized to the caller's timeout (Ratis'
   * default retries forever, and its async API blocks callers once 100 requests are outstanding):
   * each try waits at most a quarter of the timeout, and the tries with their pauses span about the
   * timeout, so a request the caller gave up on does not linger for long in the client.
   */
  public static RaftClient client(RaftGroup group, NodeConfig config) {
    return client(group, config, null, () -> false);
  }

  /**
   * {@link #client(RaftGroup, NodeConfig)} that tries {@code leader} first (null: Ratis' choice) and
   * makes no more tries once {@code stopped} says so (its holder is closing).
   */
  public static RaftClient client(RaftGroup group, NodeConfig config, RaftPeerId leader, BooleanSupplier stopped) {
    return newClient(group, config, leader, attemptMillis(config), stopping(backoff(attempts(config)), stopped));
  }

  /**
   * Up to {@code attempts} tries, the pause before each doubling from {@value #CLIENT_FIRST_SLEEP_MILLIS}
   * ms to {@value #CLIENT_SLEEP_MILLIS} ms. Ratis retries after a voter's redirect, a leader not ready
   * yet or a failed connection; in a failover the next try most often finds the new leader, so the
   * first pauses are short (a fixed 100 ms added up to 200 ms to the first write after an election).
   */
  static RetryPolicy backoff(int attempts) {
    return new RetryPolicy() {
      @Override
      public Action handleAttemptFailure(Event event) {
        int n = event.getAttemptCount();
        if (n >= attempts) {
          return NO_RETRY_ACTION;
        }
        long sleep = Math.min(CLIENT_SLEEP_MILLIS, CLIENT_FIRST_SLEEP_MILLIS << Math.min(10, Math.max(0, n - 1)));
        TimeDuration pause = TimeDuration.valueOf(sleep, TimeUnit.MILLISECONDS);
        return () -> pause;
      }

      @Override
      public String toString() {
        return "backoff(" + attempts + " tries, " + CLIENT_FIRST_SLEEP_MILLIS + ".." + CLIENT_SLEEP_MILLIS + " ms)";
      }
    };
  }

  /** {@code policy} until {@code stopped} says so, then no retry. */
  private static RetryPolicy stopping(RetryPolicy policy, BooleanSupplier stopped) {
    return new RetryPolicy() {
      @Override
      public Action handleAttemptFailure(Event event) {
        return stopped.getAsBoolean() ? NO_RETRY_ACTION : policy.handleAttemptFailure(event);
      }

      @Override
      public String toString() {
        return policy.toString();
      }
    };
  }

  /** The longest one try of a {@link #client} lasts with the pause before it: what a close waits for. */
  public static long clientAttemptSpanMillis(NodeConfig config) {
    return attemptMillis(config) + CLIENT_SLEEP_MILLIS;
  }

  private static final long CLIENT_SLEEP_MILLIS = 100;
  private static final long CLIENT_FIRST_SLEEP_MILLIS = 20;

  /**
   * One try: a quarter of the request timeout, at most half the longest election timeout. A frozen
   * leader holds each try to the end, so a short try moves the client off it soon after a new
   * leader is elected (the fault suite measures it); a slow but live leader loses nothing, as a
   * retry under the same call id meets the leader's retry cache and waits for the same outcome.
   */
  private static long attemptMillis(NodeConfig config) {
    return Math.min(ELECTION_TIMEOUT_MAX_MILLIS / 2, Math.max(250, config.requestTimeout().toMillis() / 4));
  }

  private static int attempts(NodeConfig config) {
    return (int) Math.max(3, config.requestTimeout().toMillis() / (CLIENT_SLEEP_MILLIS + 100));
  }

  /** The longest a request can stay in a {@link #client} with all its tries and pauses. */
  public static long clientRetrySpanMillis(NodeConfig config) {
    return attempts(config) * (attemptMillis(config) + CLIENT_SLEEP_MILLIS);
  }

  /**
   * A client for the heartbeats to one voter (a node keeps one per voter): quick tries that together
   * last at most half the session timeout, so at most two heartbeats to a voter are ever in flight.
   */
  public static RaftClient heartbeatClient(RaftGroup group, NodeConfig config) {
    return heartbeatClient(group, config, null, () -> false);
  }

  /**
   * {@link #heartbeatClient(RaftGroup, NodeConfig)} that tries {@code leader} first (null: Ratis'
   * choice) and stops retrying once {@code stopped} says so.
   */
  public static RaftClient heartbeatClient(RaftGroup group, NodeConfig config, RaftPeerId leader, BooleanSupplier stopped) {
    long period = Math.max(100, config.sessionTimeout().toMillis() / 3);
    long attemptMillis = Math.max(50, period / 4);
    long sleepMillis = Math.max(10, period / 20);
    int attempts = (int) Math.max(3, (config.sessionTimeout().toMillis() / 2) / (attemptMillis + sleepMillis));
    return newClient(group, config, leader, attemptMillis, stopping(RetryPolicies.retryUpToMaximumCountWithFixedSleep(
        attempts, TimeDuration.valueOf(sleepMillis, TimeUnit.MILLISECONDS)), stopped));
  }

  private static RaftClient newClient(RaftGroup group, NodeConfig config, RaftPeerId leader, long attemptMillis,
      RetryPolicy retry) {
    RaftProperties p = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(attemptMillis, TimeUnit.MILLISECONDS));
    RaftClientConfigKeys.Async.setOutstandingRequestsMax(p, OUTSTANDING_REQUESTS_MAX);
    quiet(p);
    ClientId id = ClientId.randomId();
    org.apache.ratis.conf.Parameters parameters = clientParameters(config);
    return RaftClient.newBuilder()
        .setClientId(id)
        .setProperties(p)
        .setParameters(parameters)
        .setClientRpc(detachedResets(id, p, parameters))
        .setRaftGroup(group)
        .setLeaderId(leader)
        .setRetryPolicy(retry)
        .build();
  }

  /** Ratis' gRPC client RPC, whose reconnections close the old channel off the request's thread. */
  private static org.apache.ratis.client.RaftClientRpc detachedResets(ClientId id, RaftProperties p,
      org.apache.ratis.conf.Parameters parameters) {
    return new DetachedResets(org.apache.ratis.client.ClientFactory.cast(
        org.apache.ratis.rpc.SupportedRpcType.GRPC.newFactory(parameters)).newRaftClientRpc(id, p));
  }

  /**
   * No "dummy" watch request when a client first sends ordered requests: Ratis sends one to open the
   * connection and logs its failure (a voter down) at ERROR; the first real request opens it as well.
   */
  private static void quiet(RaftProperties p) {
    RaftClientConfigKeys.Async.Experimental.setSendDummyRequest(p, false);
  }

  /** Requests one client keeps in flight before its callers wait (Ratis' default is 100). */
  public static final int OUTSTANDING_REQUESTS_MAX = 1_000;
}
