package io.roster;

import io.roster.internal.NodeConfig;
import io.roster.internal.node.Node;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * A member of a Roster cluster, embedded in this JVM: one per JVM. Create it with {@link #builder()};
 * close it to leave the cluster (its processes die and its registrations are removed).
 *
 * <p>Thread-safe.
 *
 * <p>This file is large because it is a node's whole public surface, each method with its contract,
 * and its builder with every setting's bounds: splitting them would scatter what a user reads in one
 * place.
 */
public interface RegistryNode extends AutoCloseable {

  static Builder builder() {
    return new Builder();
  }

  /** This node's id, as configured; never changes. */
  String nodeId();

  /** Whether this node is a Raft voter or a client, as configured; never changes. */
  Role role();

  /** This node's incarnation: new at every start, so pids are never reused. */
  long incarnation();

  /**
   * Completes when this node's session is open in the cluster (a quorum of voters is up), or
   * exceptionally if the session cannot be opened. Operations wait for it on their own.
   */
  CompletableFuture<Void> ready();

  /**
   * The registry named {@code name} with unique keys, created if it does not exist. Blocks until the
   * creation is committed.
   *
   * @throws IllegalArgumentException if the registry exists with other settings, or the name is invalid
   * @throws RegistryUnavailableException if no leader commits within the request timeout
   */
  default Registry<byte[]> registry(String name) {
    return registry(name, Keys.UNIQUE);
  }

  /** The registry named {@code name}, created with {@code keys} if it does not exist; as {@link #registry(String)}. */
  default Registry<byte[]> registry(String name, Keys keys) {
    return registry(name, keys, ValueCodec.bytes());
  }

  /**
   * A handle on the registry named {@code name}, created with {@code keys} and one partition if it
   * does not exist, whose values go through {@code codec}; as {@link #registry(String)}. Handles are
   * cheap, but keep one rather than asking for it per call.
   */
  default <V> Registry<V> registry(String name, Keys keys, ValueCodec<V> codec) {
    return registry(name, keys, 1, codec);
  }

  /**
   * A handle on the registry named {@code name}, created with {@code keys} over {@code partitions}
   * Raft groups if it does not exist (Elixir's {@code partitions:} option). Each partition is a Raft
   * group of the same voters, and each prefers a different voter as its leader, so writes to
   * different partitions are ordered and committed independently and leaders spread over the
   * nodes. Keys are hashed to partitions ({@link Keys} says which hash a duplicate registry uses);
   * {@code count}, {@code select}, {@code match} and {@code dispatch} span every partition.
   * Revisions are per partition: {@link RegistryEntry#revision()} and {@link RegistryEvent#revision()}
   * count in their partition's log, and a watch delivers each partition's events in its own order.
   * The first call creates the partitions' groups on the voters, which takes a few seconds (it waits
   * up to the larger of 30 s and three request timeouts for their first leaders). A restarted node
   * removes its previous incarnation's entries from a partition when it opens the registry again
   * (or the partition's leader does when that incarnation's session there times out). With TLS, a
   * partitioned registry is created by a voter or an admin (it costs the cluster Raft groups); a
   * client node opens one that exists.
   *
   * @param partitions 1 to 64
   * @throws IllegalArgumentException if the registry exists with other keys or another number of
   *     partitions, or an argument is invalid
   * @throws NotAuthorizedException if this client node would create a partitioned registry
   */
  default <V> Registry<V> registry(String name, Keys keys, int partitions, ValueCodec<V> codec) {
    return registry(name, keys, partitions, codec, Map.of());
  }

  /**
   * {@link #registry(String, Keys, int, ValueCodec)} that, if this call creates the registry, gives
   * it {@code meta} as its first metadata in the same command (Elixir's {@code start_link(meta: ...)}):
   * no node ever sees the registry without it. If the registry exists, {@code meta} is ignored and
   * its metadata stays as it is ({@link Registry#putMeta} changes it).
   *
   * @param meta metadata keys (not empty, distinct) and values (not null), at most 10,000
   * @throws LimitExceededException if a key or value is over the registry's limits, or there are too many
   * @throws IllegalArgumentException as for {@link #registry(String, Keys, int, ValueCodec)}, or for an empty key
   */
  <V> Registry<V> registry(String name, Keys keys, int partitions, ValueCodec<V> codec, Map<String, V> meta);

  /** Starts a process with no handler: a pid with a lifetime, whose messages wait for {@link LocalProcess#receive}. */
  LocalProcess spawn();

  /** Starts a process whose handler receives its messages, one at a time. */
  LocalProcess spawn(MessageHandler handler);

  /**
   * Sends {@code message} to the process {@code to}, on this node or another (Erlang's {@code send}).
   * Asynchronous: a message to another node is queued for that node's stream and this returns; it
   * arrives after every earlier message from this node to the same process (FIFO per pair), unless
   * the process died meanwhile (then it is dropped, as in Erlang) or the connection breaks. A remote
   * process whose mailbox is full holds its messages at its node, which then takes fewer from this
   * node's stream, so this node's queue fills and this method throws: backpressure. A message held
   * 10 s for a mailbox that stays full is dropped.
   *
   * @return false if the message was dropped at once: {@code to} is known dead here (no live
   *     process, or its node's session is of another incarnation or absent), or the stream to its
   *     node just broke
   * @throws LimitExceededException if the queue to {@code to}'s node (10,000 messages, 64 MiB) or a
   *     local mailbox (1,024 messages, 64 MiB) is full, or the message exceeds 4 MiB
   */
  boolean send(Pid to, byte[] message);

  /**
   * Sends {@code request} to the process {@code to} as a call and waits for its {@link Mail#reply}
   * (the {@code GenServer.call} analog).
   *
   * @throws CallException on timeout, or at once when the callee is dead, dies before answering, or
   *     its node is unreachable or its connection breaks
   */
  default byte[] call(Pid to, byte[] request, java.time.Duration timeout) {
    try {
      return callAsync(to, request, timeout).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RosterException("interrupted while calling " + to, e);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new RosterException("the call to " + to + " failed: " + e.getCause(), e.getCause());
    }
  }

  /**
   * {@link #call(Pid, byte[], java.time.Duration)} without blocking: completes with the reply or a
   * {@link CallException}, on a thread of the JVM's common pool.
   *
   * @throws LimitExceededException at once, as {@link #send} does
   */
  CompletableFuture<byte[]> callAsync(Pid to, byte[] request, java.time.Duration timeout);

  /**
   * Starts a process registered under {@code name} ({@code GenServer.start_link} with
   * {@code name: {:via, Registry, ...}}): the registration commits before this returns, and nobody
   * can reach the process before it; if the name is taken the process is ended at once, before it
   * received anything.
   *
   * @throws AlreadyStartedException if the name is taken (carries the owner's pid)
   * @throws RegistryUnavailableException as for register
   * @throws SessionExpiredException as for register
   * @throws LimitExceededException as for register
   */
  <V> LocalProcess spawn(Via<V> name, MessageHandler handler);

  /**
   * This node's health as it sees it, at once and without a network call: whether it is live
   * (else it must be restarted) and ready to serve, with the reasons when it is not: see
   * {@link Health}. Never throws, also once the node is closed; a snapshot that the next heartbeat
   * or election may change.
   */
  Health health();

  /**
   * This node's view of itself and of each Raft group it is in (role, leader, term, commit and
   * applied index, session, registrations per registry), at once and without a network call; the
   * JSON {@code /status} of {@code roster node --http-address}. Never throws, also once the node is
   * closed (then with no groups).
   */
  NodeStatus status();

  /**
   * The current leader's node id, as this node knows it; empty if none is known. Local, never blocks;
   * may be stale during an election.
   */
  Optional<String> leader();

  /**
   * The nodes with an open session, from this node's mirror (local, may lag), sorted by node id.
   */
  List<Member> members();

  /** The voters of the Raft group (node id → address), as configured. */
  Map<String, String> voters();

  /**
   * Checks that the replicas hold the same state: proposes a digest check in every group this
   * voter is in (the cluster's and the partitions it hosts) and completes with one report per group,
   * each replica's digest at the check's entry and the majority's. A replica whose digest is not the
   * majority's stops serving reads until it is replaced. Each group's leader also runs one every 10
   * minutes.
   *
   * <p>The check is a command in each group's log, so every replica digests the same applied state;
   * the report is this voter's, once it has applied the check and collected the other voters'
   * digests (waiting up to 30 s for them). A voter's operation: on a client node the future fails
   * with {@link IllegalStateException}; without a leader or quorum it fails with
   * {@link RegistryUnavailableException}.
   *
   * @throws IllegalStateException if this node is closed
   * @throws SessionExpiredException if this node's session expired
   */
  CompletableFuture<List<ConsistencyReport>> checkConsistency();

  /** Leaves the cluster: ends the session (removing its registrations), stops processes and servers. */
  @Override
  void close();

  /** Configures and starts a node. */
  final class Builder {
    private String nodeId;
    private String listenAddress;
    private String messageAddress;
    private final Map<String, String> voters = new LinkedHashMap<>();
    private Path dataDir;
    private Role role = Role.VOTER;
    private String cluster = "roster";
    private Duration sessionTimeout = Duration.ofMillis(5_000);
    private boolean selfFencing = true;
    private Duration requestTimeout = Duration.ofSeconds(5);
    private NodeListener listener = new NodeListener() {};
    private int batchCommandsMax = 256;
    private int batchBytesMax = 256 * 1024;
    private Duration batchLinger = Duration.ofNanos(200_000);
    private Tls tls;
    private boolean insecure;
    private int processesMax = PROCESSES_MAX_DEFAULT;
    private io.micrometer.core.instrument.MeterRegistry meters; // null: no metrics
    private boolean joining;

    Builder() {}

    /** The node's id, unique in the cluster: 1..128 UTF-8 bytes. Required. */
    public Builder nodeId(String nodeId) {
      this.nodeId = Objects.requireNonNull(nodeId, "nodeId");
      return this;
    }

    /** {@code host:port} this node serves on; required for a voter (it must be its entry in {@link #voter}). */
    public Builder listenAddress(String hostPort) {
      this.listenAddress = Objects.requireNonNull(hostPort, "hostPort");
      return this;
    }

    /** Adds a voter of the cluster ({@code host:port}). Every node lists the same voters. */
    public Builder voter(String nodeId, String hostPort) {
      Objects.requireNonNull(nodeId, "nodeId");
      Objects.requireNonNull(hostPort, "hostPort");
      if (voters.containsKey(nodeId)) {
        throw new IllegalArgumentException("voter " + nodeId + " is given twice");
      }
      voters.put(nodeId, hostPort);
      return this;
    }

    /**
     * Where this node's processes receive messages from other nodes ({@code host:port}; port 0 picks
     * a free one). The host must be one the other nodes can reach: it is published in the node's
     * session. Default: the host of {@link #listenAddress} (127.0.0.1 for a client) and port 0.
     */
    public Builder messageAddress(String hostPort) {
      this.messageAddress = Objects.requireNonNull(hostPort, "hostPort");
      return this;
    }

    /** Where a voter keeps its Raft log, snapshots and store. Required for a voter. */
    public Builder dataDir(Path dataDir) {
      this.dataDir = Objects.requireNonNull(dataDir, "dataDir");
      return this;
    }

    public Builder role(Role role) {
      this.role = Objects.requireNonNull(role, "role");
      return this;
    }

    /** The cluster's name; nodes of one cluster use the same one. Default "roster". */
    public Builder cluster(String cluster) {
      this.cluster = Objects.requireNonNull(cluster, "cluster");
      return this;
    }

    /**
     * Whether this node ends its session itself once no leader has heard it for its session timeout
     * (default true): a cut-off or paused node then learns it lost its names and locks before any
     * leader can hand them to others. Off, it learns only when a leader tells it.
     */
    public Builder selfFencing(boolean on) {
      this.selfFencing = on;
      return this;
    }

    /**
     * How long the leader waits without a heartbeat before it expires this node's session and
     * removes its registrations: 1 s to 60 s, default 5 s. Heartbeats go every third of it.
     */
    public Builder sessionTimeout(Duration timeout) {
      this.sessionTimeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /** Processes at most alive on this node at once (as Erlang's default): {@code spawn} beyond is refused. */
    public static final int PROCESSES_MAX_DEFAULT = 262_144;

    /**
     * How many processes may be alive on this node at once: 1 to 16,777,216, default
     * {@value #PROCESSES_MAX_DEFAULT}. {@code spawn} beyond throws {@link LimitExceededException}.
     */
    public Builder processesMax(int max) {
      this.processesMax = max;
      return this;
    }

    /** The bound on every blocking call and consistent read: default 5 s. */
    public Builder requestTimeout(Duration timeout) {
      this.requestTimeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /**
     * Group commit: this node's concurrent writes share Raft entries of at most {@code commandsMax}
     * commands (1..4096, default 256) and {@code bytesMax} bytes (1 KiB..4 MiB, default 256 KiB); a
     * batch waits at most {@code linger} between two writes (0..100 ms, default 200 µs). One batch per
     * Raft group is outstanding at a time, and writes arriving meanwhile leave together in the next
     * one: a node's writes reach the log in the order it made them.
     */
    public Builder groupCommit(int commandsMax, int bytesMax, Duration linger) {
      this.batchCommandsMax = commandsMax;
      this.batchBytesMax = bytesMax;
      this.batchLinger = Objects.requireNonNull(linger, "linger");
      return this;
    }

    /**
     * Mutual TLS on every port of this node (Raft and messaging), with this node's certificate and
     * the CAs it trusts: the certificate's CN must be this node's id and its OU its role
     * ({@code voter} for a voter, {@code client} or {@code admin} for a client node). Required unless
     * {@link #insecure()} is chosen.
     */
    public Builder tls(Tls tls) {
      this.tls = Objects.requireNonNull(tls, "tls");
      return this;
    }

    /**
     * Mutual TLS from PEM files: this node's certificate chain, its unencrypted PKCS#8 key and the
     * cluster's CA bundle ({@code roster cert} makes them). See {@link #tls(Tls)}.
     *
     * @throws IllegalArgumentException if a file is missing or not what it should be
     */
    public Builder tls(Path certificateChain, Path privateKey, Path trustedCas) {
      return tls(Tls.pem(certificateChain, privateKey, trustedCas));
    }

    /**
     * Plaintext on every port, with no authentication: anyone who reaches a port can act as any
     * node. Only for a network that nothing else reaches (the node logs a warning at start).
     */
    public Builder insecure() {
      this.insecure = true;
      return this;
    }

    /**
     * Publishes the node's metrics to {@code registry} (Micrometer): writes by command and result,
     * write and consistent-read latency, batch sizes, the group-commit queue, leader presence and
     * changes, commit and apply indexes, sessions, registrations per registry, snapshots, messages
     * and calls, each tagged with the node and the Raft group. None by default (nothing is measured);
     * the node's meters are removed from the registry when it closes. The names are listed in the
     * README's Operations section.
     */
    public Builder meterRegistry(io.micrometer.core.instrument.MeterRegistry registry) {
      this.meters = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * A voter that joins a running cluster, to be added (or replaced under its old id) by {@code
     * Membership.addVoter} / {@code roster voters add}: on an empty data directory it starts the
     * cluster's group outside its configuration, so Raft starts it initializing, with no election
     * timer, until the leader has caught it up and admitted it. Without it, a voter replaying a log
     * in which it is absent (or was removed) runs the timer, and a leader slow to admit it makes Raft
     * shut the group down on it for good. Ignored on a data directory that holds the group already (a
     * restart). Never for the voters that form a new cluster: none of them would start an election.
     */
    public Builder joining(boolean joining) {
      this.joining = joining;
      return this;
    }

    public Builder listener(NodeListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /**
     * Validates the configuration and starts the node: its Raft server if it is a voter, then its
     * session in the background ({@link RegistryNode#ready()} tells when it is open).
     *
     * @throws IllegalArgumentException if the configuration is invalid (the message says what)
     * @throws RosterException if the node cannot start (a port in use, an unreadable data directory)
     */
    public RegistryNode start() {
      NodeConfig config = new NodeConfig(nodeId, listenAddress, Map.copyOf(voters), dataDir, role, cluster,
          sessionTimeout, requestTimeout, listener,
          new NodeConfig.Batching(batchCommandsMax, batchBytesMax, batchLinger.toNanos()),
          messageAddress, tls, insecure, processesMax, selfFencing, meters, joining);
      return Node.start(config);
    }
  }
}
