package io.roster.internal.node;

// This file is large because Node is both the RegistryNode face and the owner of a node's shared
// state (executors, groups, messaging, the closed and expired flags, the lock partitions open under):
// opening partitions, process-death reaping, expiry fan-out and watch bookkeeping read and change that
// state, so they live beside it. What needs none of it is elsewhere: the voter's Raft server in
// VoterServer, partition groups' configurations and hosting in PartitionGroups, the data directory's
// identity and incarnation in DataDirIdentity, registry locks in RegistryLocks.

import io.roster.AlreadyRegisteredException;
import io.roster.AlreadyStartedException;
import io.roster.Consistency;
import io.roster.Keys;
import io.roster.LimitExceededException;
import io.roster.LocalProcess;
import io.roster.Member;
import io.roster.MessageHandler;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.RegistryListener;
import io.roster.RegistryNode;
import io.roster.RegistryUnavailableException;
import io.roster.Role;
import io.roster.RosterException;
import io.roster.SessionExpiredException;
import io.roster.Subscription;
import io.roster.ValueCodec;
import io.roster.Via;
import io.roster.internal.Failures;
import io.roster.internal.NodeConfig;
import io.roster.internal.messaging.Messaging;
import io.roster.internal.messaging.ProcessTable;
import io.roster.internal.read.PendingRemovals;
import io.roster.internal.read.Watch;
import io.roster.internal.session.SessionKeeper;
import io.roster.internal.transport.NodeTls;
import io.roster.internal.transport.RatisWiring;
import io.roster.internal.write.Writer;
import io.roster.mirror.ChangeHistory;
import io.roster.mirror.Mirror;
import io.roster.proto.CreateRegistry;
import io.roster.proto.KeyMode;
import io.roster.proto.Result;
import io.roster.proto.Status;
import io.roster.ratis.RegistryStateMachine;
import io.roster.schema.Commands;
import io.roster.schema.Limits;
import io.roster.schema.Session;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running node: its Raft server (voters), its Ratis clients, its session, its processes and
 * registries. The public face is {@link RegistryNode}; this class is the wiring.
 */
public final class Node implements RegistryNode, SessionKeeper.Owner {
  /**
   * The system property that, set to true when a node starts, makes its linearizable reads skip the
   * ReadIndex barrier: they become local reads that may be stale. Only for proving that the fault
   * suite catches a broken read path; a node started so says it at WARN.
   */
  public static final String UNSAFE_READS_PROPERTY = "roster.test.unsafeLinearizableReadsWithoutBarrier";

  private static final Logger LOG = LoggerFactory.getLogger(Node.class);

  /** The label of the cluster's own group, in thread names and logs. */
  static final String CLUSTER_LABEL = "cluster";
  /** How often a voter looks for partition groups it should host but does not, at the latest. */
  private static final long RECONCILE_MILLIS = 500;
  /** How often a voter checks whether the cluster has a new registry (a cheap count). */
  private static final long RECONCILE_CHECK_MILLIS = 20;
  /** The registry count and time of the last look (the reconcile thread's own). */
  private int registriesSeen = -1;
  private long reconciledAtNanos;

  private final NodeConfig config;
  /** This node's incarnation: a voter renews it when it rejoins after its session expired. */
  private volatile long incarnation;
  private final RaftServer server; // null for a client
  /** The cluster's group: sessions, registry descriptors and metadata, and the entries of unpartitioned registries. */
  private final Group main;
  /** The partition groups this node uses, by group id. */
  private final Map<RaftGroupId, Group> partitionGroups = new ConcurrentHashMap<>();
  private final ScheduledExecutorService scheduler;
  /** Adds and opens partition groups: slow Ratis calls, kept off the session scheduler. */
  private final ScheduledExecutorService reconciler;
  private final ExecutorService processExecutor;
  /** Runs watch subscriptions' deliveries; one task per subscription at a time. */
  private final ExecutorService watchExecutor;
  private final Set<Watch<?>> watches = ConcurrentHashMap.newKeySet();
  /** Runs the partitions' callbacks of a parallel dispatch (never the process threads: a handler may dispatch). */
  private final ExecutorService dispatchExecutor;
  /**
   * Completes the futures of writes and reads that waited for this node's mirror, so that the
   * caller's continuations never run on the thread that applies (they may wait for another write).
   */
  private final ExecutorService callbackPool;
  private final java.util.concurrent.Executor callbackExecutor;
  /** Watch subscriptions one node keeps at most. */
  static final int WATCHES_MAX = 1024;
  private final ProcessTable processes;
  /** Messages to and from the processes of other nodes. */
  private final Messaging messaging;
  private final NodeMetrics metrics;
  private final PendingRemovals pending = new PendingRemovals();

  /** A registry this node has created or opened: its settings and the groups of its partitions, in order. */
  private record Opened(Keys keys, int partitions, List<Group> parts) {}

  private final Map<String, Opened> registries = new ConcurrentHashMap<>();
  private final long timeoutMillis;
  private volatile boolean closed;
  /** Set once the session expired in any group: the node must be restarted. */
  private volatile boolean expired;
  /** Guards the one-time expiry work without the node's lock (which a partition being added may hold). */
  private final java.util.concurrent.atomic.AtomicBoolean expiring = new java.util.concurrent.atomic.AtomicBoolean();

  private Node(NodeConfig config, long incarnation, RaftServer server, RaftGroup group) {
    this.config = config;
    this.incarnation = incarnation;
    this.server = server;
    this.timeoutMillis = config.requestTimeout().toMillis();
    this.scheduler = Executors.newSingleThreadScheduledExecutor(threads("roster-" + config.nodeId() + "-session"));
    this.reconciler = Executors.newSingleThreadScheduledExecutor(threads("roster-" + config.nodeId() + "-partitions"));
    // A handler may block (a call to another process waits in it): a fixed pool could run out of
    // threads with every one waiting for a process that has none. Idle threads end after a minute.
    this.processExecutor = Executors.newCachedThreadPool(threads("roster-" + config.nodeId() + "-process"));
    this.watchExecutor = Executors.newCachedThreadPool(threads("roster-" + config.nodeId() + "-watch"));
    this.dispatchExecutor = Executors.newCachedThreadPool(threads("roster-" + config.nodeId() + "-dispatch"));
    this.callbackPool = Executors.newCachedThreadPool(threads("roster-" + config.nodeId() + "-callback"));
    this.callbackExecutor = task -> {
      try {
        callbackPool.execute(task);
      } catch (java.util.concurrent.RejectedExecutionException stopped) {
        task.run(); // the node stopped: complete the future anyway, here
      }
    };
    this.metrics = new NodeMetrics(config.meters(), config.nodeId());
    this.processes = new ProcessTable(config.nodeId(), incarnation, processExecutor, this::processDied,
        timeoutMillis, config.processesMax());
    Messaging m = null;
    try {
      m = new Messaging(config.nodeId(), incarnation, config.messageAddress(), processes,
          this::session, config.tls() == null ? null : new NodeTls(config.tls(), config));
      this.main = new Group(this, config, server, group, CLUSTER_LABEL, scheduler);
    } catch (RuntimeException e) {
      if (m != null) {
        m.close();
      }
      List.of(scheduler, reconciler, processExecutor, watchExecutor, dispatchExecutor, callbackPool)
          .forEach(ExecutorService::shutdownNow);
      throw e;
    }
    this.messaging = m;
    metrics.bindGroup(main);
  }

  /** Starts a node as the builder describes; see {@link RegistryNode.Builder#start()}. */
  public static Node start(NodeConfig config) {
    io.roster.ratis.RatisEmbedding.init();
    RatisMeters.install(); // before Ratis' first metric registry: one reporter for the process
    if (config.tls() != null) {
      NodeTls.checkOwn(config.tls(), config.nodeId(), config.role());
    } else {
      LOG.warn("node {} runs without TLS (insecure): anyone who reaches its ports can act as any node", config.nodeId());
    }
    if (config.dataDir() != null) {
      DataDirIdentity.check(config.dataDir(), config.cluster(), config.nodeId());
    }
    long incarnation = DataDirIdentity.nextIncarnation(config.dataDir());
    RaftGroup group = RatisWiring.group(config);
    // a joining voter hosts the cluster's group with no configuration (see Builder.joining): Ratis takes
    // a server's first group with peers only if they name the server
    RaftServer server = config.role() == Role.VOTER
        ? VoterServer.start(config, config.joining() ? RaftGroup.valueOf(group.getGroupId()) : group) : null;
    Node node;
    try {
      node = new Node(config, incarnation, server, group);
    } catch (RuntimeException e) {
      Failures.closeQuietly(server);
      throw e;
    }
    node.main.start();
    node.scheduler.scheduleWithFixedDelay(node.messaging::checkPeers, 1, 1, TimeUnit.SECONDS);
    if (node.metrics.on()) {
      node.metrics.bindNode(node);
      node.scheduler.scheduleWithFixedDelay(() -> node.metrics.refreshRegistrations(node.groups()), 0,
          METRICS_REFRESH_SECONDS, TimeUnit.SECONDS);
    }
    if (server != null) {
      node.reconciler.scheduleWithFixedDelay(node::reconcile, 0, RECONCILE_CHECK_MILLIS, TimeUnit.MILLISECONDS);
      node.scheduler.scheduleWithFixedDelay(node::consistencyDuty, CONSISTENCY_CHECK_MINUTES,
          CONSISTENCY_CHECK_MINUTES, TimeUnit.MINUTES);
    }
    LOG.info("node {} started as {} (incarnation {})", config.nodeId(), config.role(), incarnation);
    if (Boolean.getBoolean(UNSAFE_READS_PROPERTY)) {
      LOG.warn("node {}: {} is set: its linearizable reads skip their barrier and may be stale (a test switch)",
          config.nodeId(), UNSAFE_READS_PROPERTY);
    }
    return node;
  }

  private static ThreadFactory threads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /**
   * Probes for a group's leader that this node's current session keepers sent, summed over its groups
   * (tests look at it). A local count read without a lock, so it may miss a probe being sent at that
   * moment; no request is made and it never throws. A voter's keepers send none.
   */
  public long leaderProbesSent() {
    return groups().stream().mapToLong(g -> g.session().leaderProbes()).sum();
  }

  // ---------------------------------------------------------------- RegistryNode

  @Override
  public String nodeId() {
    return config.nodeId();
  }

  @Override
  public Role role() {
    return config.role();
  }

  @Override
  public long incarnation() {
    return incarnation;
  }

  @Override
  public CompletableFuture<Void> ready() {
    return main.session().ready().thenApply(v -> null);
  }

  @Override
  public <V> Registry<V> registry(String name, Keys keys, int partitions, ValueCodec<V> codec, Map<String, V> meta) {
    Limits.requireWellFormed(name, "registry name");
    Objects.requireNonNull(keys, "keys");
    Objects.requireNonNull(codec, "codec");
    Objects.requireNonNull(meta, "meta");
    if (partitions < 1 || partitions > Limits.PARTITIONS_MAX) {
      throw new IllegalArgumentException("partitions must be 1.." + Limits.PARTITIONS_MAX + ", was " + partitions);
    }
    Opened opened = registries.get(name);
    if (opened == null) {
      KeyMode mode = switch (keys) {
        case UNIQUE -> KeyMode.UNIQUE;
        case DUPLICATE -> KeyMode.DUPLICATE;
        case DUPLICATE_BY_KEY -> KeyMode.DUPLICATE_BY_KEY;
      };
      CreateRegistry.Builder create = CreateRegistry.newBuilder().setRegistry(name).setMode(mode)
          .setPartitions(partitions);
      if (partitions > 1 && server != null) {
        // the partition groups' first configuration, recorded with the registry: the same on every voter
        PartitionGroups.clusterVoters(server, main.raftGroup()).forEach((id, address) -> create.addVoters(
            io.roster.proto.Voter.newBuilder().setId(id).setAddress(address)));
      }
      meta.forEach((key, value) -> {
        Limits.requireWellFormed(key, "meta key");
        byte[] bytes = codec.encode(Objects.requireNonNull(value, "meta value of '" + key + "'"));
        create.addMeta(io.roster.proto.MetaEntry.newBuilder().setKey(key)
            .setValue(com.google.protobuf.ByteString.copyFrom(bytes)));
      });
      join(main.write(Commands.createRegistry(create.build()), name));
      List<Group> parts = partitions == 1 ? List.of(main) : openPartitions(name, mode, partitions);
      opened = registries.computeIfAbsent(name, n -> new Opened(keys, partitions, parts));
    }
    if (opened.keys() != keys || opened.partitions() != partitions) {
      throw new IllegalArgumentException("registry '" + name + "' has " + opened.keys() + " keys and "
          + opened.partitions() + " partitions, not " + keys + " and " + partitions);
    }
    return new RegistryImpl<>(this, name, keys, codec, opened.parts());
  }

  /**
   * Opens the partition groups of a registry whose descriptor is committed: each voter adds the
   * groups it should host (see {@link #reconcile}), this node opens its session in each and creates
   * the registry there (idempotent, so a creation that a crash cut short is completed by the next).
   */
  private List<Group> openPartitions(String name, KeyMode mode, int partitions) {
    List<Group> parts = new ArrayList<>(partitions);
    for (int i = 0; i < partitions; i++) {
      parts.add(partition(name, partitions, i));
    }
    // new groups elect their first leaders: allow for that on top of the usual bound
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(30_000, 3 * timeoutMillis));
    List<CompletableFuture<Long>> created = new ArrayList<>(partitions);
    for (Group g : parts) {
      long left = Math.max(1, deadline - System.nanoTime());
      try {
        g.session().ready().get(left, TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        throw new RegistryUnavailableException("partition " + g.label() + " of registry '" + name
            + "' has no leader yet; try again", e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RosterException("interrupted", e);
      } catch (ExecutionException e) {
        throw Failures.unwrap(e);
      }
      created.add(g.write(Commands.createRegistry(CreateRegistry.newBuilder().setRegistry(name).setMode(mode)
          .setPartitions(1).build()), name));
    }
    for (int i = 0; i < partitions; i++) { // this node's mirrors of the partitions have the registry
      long revision = join(created.get(i));
      join(parts.get(i).reach(Consistency.atLeast(revision)));
    }
    return List.copyOf(parts);
  }

  /** This node's handle on partition {@code i} of a registry; on a voter, hosts the group first. */
  private synchronized Group partition(String registry, int partitions, int i) {
    io.roster.schema.RegistryDescriptor described = main.mirror().registry(registry);
    RaftGroup raftGroup = RatisWiring.partitionGroup(config, registry, i,
        PartitionGroups.firstConfiguration(config, server, main.raftGroup(),
        described == null ? Map.of() : described.voters()));
    Group g = partitionGroups.get(raftGroup.getGroupId());
    if (g != null) {
      return g;
    }
    checkOpen();
    if (server != null) {
      if (!PartitionGroups.hosted(server, raftGroup.getGroupId()) && !clusterHistoryKnown()) {
        throw new RegistryUnavailableException(nodeId() + " is still catching up with the cluster's group (its "
            + "session there is not open, or not applied here yet): partition " + i + " of registry '" + registry
            + "' is hosted after that; try again", null);
      }
      PartitionGroups.host(server, PartitionGroups.joinsLate(described, main.stateMachine())
          ? PartitionGroups.withoutSelf(raftGroup, server.getId()) : raftGroup);
    }
    g = new Group(this, config, server, raftGroup, registry + "#" + i, scheduler);
    partitionGroups.put(raftGroup.getGroupId(), g);
    metrics.bindGroup(g);
    g.start();
    LOG.info("{}: opened partition {} of {} of registry '{}' ({})", nodeId(), i, partitions, registry,
        raftGroup.getGroupId());
    return g;
  }

  /**
   * Whether this voter's replica of the cluster's group has applied the entry that opened this
   * node's session there: it then knows the group's configurations up to that point, enough to tell
   * whether it joined after a registry was created (see {@link PartitionGroups#joinsLate}). Before,
   * a voter replaced under its old id that is replaying the log still looks like the voter it was.
   */
  private boolean clusterHistoryKnown() {
    CompletableFuture<Long> opened = main.session().openIndex();
    return opened.isDone() && !opened.isCompletedExceptionally() && main.mirror().appliedIndex() >= opened.join();
  }

  /** How often the registrations-per-registry gauges are recounted from the mirrors. */
  static final long METRICS_REFRESH_SECONDS = 5;

  /** How often the leader of each group asks its replicas to compare digests. */
  static final long CONSISTENCY_CHECK_MINUTES = 10;

  /** The leader's duty: a digest check of every group it leads. */
  private void consistencyDuty() {
    for (Group g : groups()) {
      if (!closed && g.leading()) {
        g.checkConsistency().whenComplete((r, e) -> {
          if (e != null) {
            LOG.debug("{}: digest check of {} not done: {}", nodeId(), g.label(), e.toString());
          }
        });
      }
    }
  }

  /**
   * Proposes a digest check in every group this voter is in and completes with its reports: each
   * replica's digest at the same index and the majority's. A replica that is not the majority's
   * stops serving reads. Also done every {@value #CONSISTENCY_CHECK_MINUTES} minutes by each
   * group's leader.
   */
  @Override
  public CompletableFuture<List<io.roster.ConsistencyReport>> checkConsistency() {
    checkOpen();
    List<CompletableFuture<io.roster.ConsistencyReport>> all = groups().stream().map(Group::checkConsistency).toList();
    return CompletableFuture.allOf(all.toArray(new CompletableFuture[0]))
        .thenApply(v -> all.stream().map(CompletableFuture::join).toList());
  }

  /**
   * A voter's duty: host every partition group of every partitioned registry the cluster's group
   * describes, and keep a session in each. A voter that was down when a registry was created, or
   * that restarts, finds its partitions here; a partition's leader then expires silent sessions.
   */
  private void reconcile() {
    if (main.stateMachine() != null && main.stateMachine().stopped() != null) {
      return; // this replica serves nothing more (corrupt or diverged): it hosts nothing new either
    }
    try {
      // A new registry is hosted at once: a voter that adds a partition group late may still be
      // starting it when the other voters' leader sends it entries, which Ratis logs at ERROR.
      if (!clusterHistoryKnown()) {
        return; // see partition(): nothing is hosted before
      }
      int registries = main.mirror().registryCount();
      long now = System.nanoTime();
      if (registries == registriesSeen && now - reconciledAtNanos < TimeUnit.MILLISECONDS.toNanos(RECONCILE_MILLIS)) {
        return;
      }
      registriesSeen = registries;
      reconciledAtNanos = now;
      hostDescribedPartitions();
    } catch (RuntimeException e) { // keep the periodic task alive
      if (!closed) {
        LOG.warn("{}: looking for partitions to host failed", nodeId(), e);
      }
    }
  }

  private void hostDescribedPartitions() {
    if (closed || expired) {
      return;
    }
    for (io.roster.schema.RegistryDescriptor d : main.mirror().registries()) {
      for (int i = 0; i < d.partitions() && d.partitions() > 1; i++) {
        try {
          partition(d.name(), d.partitions(), i);
        } catch (RuntimeException e) {
          if (closed) {
            return;
          }
          LOG.warn("{}: partition {} of registry '{}' not open yet: {}", nodeId(), i, d.name(), e.toString());
        }
      }
    }
  }

  @Override
  public boolean send(Pid to, byte[] message) {
    checkOpen();
    return messaging.send(to, message);
  }

  @Override
  public CompletableFuture<byte[]> callAsync(Pid to, byte[] request, java.time.Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    checkOpen();
    if (!metrics.on()) {
      return messaging.call(to, request, timeout);
    }
    long started = metrics.start();
    return messaging.call(to, request, timeout).whenComplete((r, e) -> metrics.call(started));
  }

  /** This node's meters (none without a registry). */
  NodeMetrics metrics() {
    return metrics;
  }

  /** Where this node's processes receive messages from other nodes (host:port), as its session publishes it. */
  public String messageAddress() {
    return messaging.address();
  }

  /** Messages and calls this node's processes sent to processes on other nodes. */
  public long messagesSent() {
    return messaging.sent();
  }

  /** Messages from other nodes dropped on arrival (dead process, full mailbox); for tests and tools. */
  public long messagesDropped() {
    return messaging.dropped();
  }

  @Override
  public LocalProcess spawn() {
    return spawn(null);
  }

  @Override
  public LocalProcess spawn(MessageHandler handler) {
    checkOpen();
    return processes.spawn(handler);
  }

  @Override
  public <V> LocalProcess spawn(Via<V> name, MessageHandler handler) {
    Objects.requireNonNull(name, "name");
    // this node's handle on the registry, whichever node's handle made the name
    Registry<V> via = name.registry();
    Registry<V> registry = registry(via.name(), Keys.UNIQUE, via.partitions(), via.codec());
    LocalProcess process = spawn(handler);
    try {
      long revision = registry.register(name.key(), process, name.value()); // applied here when it returns
      ((ProcessTable.Proc) process).viaRevision(revision);
      return process;
    } catch (AlreadyRegisteredException e) {
      process.close();
      throw new AlreadyStartedException(name.key(), e.owner());
    } catch (RuntimeException e) {
      process.close();
      throw e;
    }
  }

  @Override
  public Optional<String> leader() {
    return main.leader().map(RaftPeerId::toString);
  }

  @Override
  public io.roster.Health health() {
    if (closed) {
      return new io.roster.Health(false, false, List.of("node " + nodeId() + " is closed"));
    }
    if (expired) { // a client node must be restarted; a voter rejoins by itself
      return new io.roster.Health(server != null, false, List.of(expiredMessage()));
    }
    List<String> notReady = new ArrayList<>();
    for (Group g : groups()) {
      g.health(notReady);
    }
    return new io.roster.Health(true, notReady.isEmpty(), notReady);
  }

  @Override
  public io.roster.NodeStatus status() {
    List<io.roster.NodeStatus.Group> out = new ArrayList<>();
    for (Group g : closed ? List.<Group>of() : groups()) {
      try {
        out.add(g.status());
      } catch (RuntimeException closing) {
        // a group closing as the node closes: left out
      }
    }
    return new io.roster.NodeStatus(nodeId(), config.role(), incarnation, health(), out);
  }

  @Override
  public List<Member> members() {
    List<Member> members = new ArrayList<>();
    for (Session s : mirror().openSessions()) {
      members.add(new Member(s.nodeId(), s.incarnation(), config.voters().containsKey(s.nodeId()), s.address()));
    }
    members.sort(Comparator.comparing(Member::nodeId));
    return members;
  }

  @Override
  public Map<String, String> voters() {
    return config.voters();
  }

  /**
   * Leaves the cluster: ends this node's session in one command per group (removing every
   * registration of its processes), then stops its processes, clients and server.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    if (!expired) {
      List<CompletableFuture<Result>> goodbyes = new ArrayList<>();
      for (Group g : groups()) {
        CompletableFuture<Void> ready = g.session().ready();
        if (ready.isDone() && !ready.isCompletedExceptionally()) {
          goodbyes.add(g.writer().submit(Commands.expireSession(nodeId(), incarnation)));
        }
      }
      try {
        CompletableFuture.allOf(goodbyes.toArray(CompletableFuture[]::new)).get(timeoutMillis, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException | TimeoutException e) {
        LOG.info("{}: leaving without goodbye ({}); the leaders will expire the session", nodeId(), e.getMessage());
      }
    }
    stop();
  }

  /**
   * Stops everything without ending the session, as a crash would look to the cluster: the leader
   * expires the session after its timeout. For tests and the demo.
   */
  public void crash() {
    stop();
  }

  private void stop() {
    synchronized (this) { // no partition opens after this
      if (closed) {
        return;
      }
      closed = true;
    }
    reconciler.shutdownNow();
    metrics.close();
    groups().forEach(g -> g.session().close());
    processes.killAll(); // fails their unanswered calls, remote callers' too: the message server is still up
    messaging.close();
    scheduler.shutdownNow();
    processExecutor.shutdownNow();
    for (Watch<?> w : List.copyOf(watches)) {
      w.end(new RosterException("node " + nodeId() + " closed"));
    }
    watchExecutor.shutdownNow();
    dispatchExecutor.shutdownNow();
    callbackPool.shutdown(); // lets queued completions run
    groups().forEach(Group::close);
    Failures.closeQuietly(server);
    metrics.close(); // again: a refresh under way as the node closed may have put its rows back
    LOG.info("node {} stopped", nodeId());
  }

  /** The cluster's group and every partition group this node uses. */
  private List<Group> groups() {
    List<Group> all = new ArrayList<>(1 + partitionGroups.size());
    all.add(main);
    all.addAll(partitionGroups.values());
    return all;
  }

  // ---------------------------------------------------------------- for RegistryImpl and SessionKeeper

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("node " + nodeId() + " is closed");
    }
    if (expired) {
      throw new SessionExpiredException(expiredMessage());
    }
  }

  /** What a call meets while this node's session is expired. */
  String expiredMessage() {
    return "the session of node " + nodeId() + " incarnation " + incarnation + " expired; "
        + (server != null ? "the voter is rejoining as a new incarnation (see ready())" : "restart the node");
  }

  boolean isClosed() {
    return closed;
  }

  boolean expired() {
    return expired;
  }

  long timeoutMillis() {
    return timeoutMillis;
  }

  /** This node's local mirror of the cluster's group (fetch it for each read); for tests, tools and the demo. */
  public Mirror mirror() {
    return main.mirror();
  }

  /**
   * The Raft groups of a registry's partitions that this node opened, in partition order (the
   * cluster's group for a registry of one partition); empty if this node has not opened it. For
   * tests and tools.
   */
  public List<RaftGroup> partitionGroups(String registry) {
    Opened opened = registries.get(registry);
    return opened == null ? List.of() : opened.parts().stream().map(Group::raftGroup).toList();
  }

  /** The session of node {@code id} in the cluster's mirror, or null. */
  private Session session(String id) {
    return main.mirror().session(id);
  }

  /** The cluster's group: sessions, registry descriptors and metadata. */
  Group clusterGroup() {
    return main;
  }

  PendingRemovals pending() {
    return pending;
  }

  /** The Raft server of a voter, or null on a client; for tools and benchmarks. */
  public RaftServer raftServer() {
    return server;
  }

  /** The cluster's Raft group; for tools and benchmarks that talk to Ratis directly. */
  public RaftGroup raftGroup() {
    return main.raftGroup();
  }

  /** The state machine of the cluster's group on a voter, or null on a client; for tests and the demo. */
  public RegistryStateMachine stateMachine() {
    return main.stateMachine();
  }

  /**
   * Starts a watch of {@code registry}'s events in one of its groups after {@code afterRevision}
   * (-1: from now).
   */
  <V> Subscription watch(Group group, int partition, String registry, ValueCodec<V> codec, long afterRevision,
      RegistryListener<V> listener) {
    Objects.requireNonNull(listener, "listener");
    if (closed) {
      throw new IllegalStateException("node " + nodeId() + " is closed");
    }
    if (afterRevision < -1) {
      throw new IllegalArgumentException("afterRevision must be a revision, or -1 for from now; was " + afterRevision);
    }
    ChangeHistory history = group.history();
    boolean fromNow = afterRevision == -1;
    if (!fromNow && afterRevision > group.appliedRevision()) {
      // a revision this node has not applied yet (another node's write, say): wait for it, bounded;
      // one that never comes (another partition's, a made-up one) is refused
      try {
        join(group.reach(Consistency.atLeast(afterRevision)));
      } catch (RegistryUnavailableException e) {
        throw new IllegalArgumentException("cannot watch " + group.label() + " after revision " + afterRevision + ": "
            + e.getMessage(), e);
      }
    }
    long from = fromNow ? io.roster.schema.Revisions.entryEnd(history.appliedIndex()) : afterRevision;
    Watch<V> w = new Watch<>(history, registry, partition, codec, from, fromNow, listener, watchExecutor,
        watches::remove);
    synchronized (watches) {
      if (watches.size() >= WATCHES_MAX) {
        throw new LimitExceededException("a node keeps at most " + WATCHES_MAX + " watch subscriptions");
      }
      watches.add(w);
    }
    w.start();
    return w;
  }

  /** The threads of parallel dispatches. */
  ExecutorService dispatchExecutor() {
    return dispatchExecutor;
  }

  /** Where futures that waited for a mirror complete; never a thread that applies. */
  java.util.concurrent.Executor callbackExecutor() {
    return callbackExecutor;
  }

  /** Validates that {@code process} is a live process of this node and returns its pid. */
  Pid ownProcess(LocalProcess process) {
    Objects.requireNonNull(process, "process");
    if (expired) {
      throw new SessionExpiredException(expiredMessage()); // its processes died with the session
    }
    Pid pid = process.pid();
    if (!pid.nodeId().equals(nodeId()) || pid.incarnation() != incarnation) {
      throw new IllegalArgumentException(pid + " is not a process of node " + nodeId() + " incarnation " + incarnation);
    }
    if (processes.get(pid) == null) {
      throw new IllegalArgumentException(pid + " is not alive");
    }
    return pid;
  }

  <T> CompletableFuture<T> withTimeout(CompletableFuture<T> f, String what) {
    return f.orTimeout(timeoutMillis, TimeUnit.MILLISECONDS).exceptionally(e -> {
      Throwable cause = Failures.cause(e);
      if (cause instanceof TimeoutException) {
        throw Writer.unavailable(what + " did not complete within " + timeoutMillis + " ms",
            String.join(", ", config.voters().keySet()), null, cause);
      }
      if (cause instanceof IOException) { // Ratis: no leader, read index refused, connection lost
        throw Writer.unavailable(what + " failed", String.join(", ", config.voters().keySet()), null, cause);
      }
      throw Failures.unwrap(cause);
    });
  }

  /** Waits for a future of this node (each is bounded by the request timeout) and unwraps its failure. */
  static <T> T join(CompletableFuture<T> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RosterException("interrupted", e);
    } catch (ExecutionException e) {
      throw Failures.unwrap(e);
    }
  }

  /**
   * A process died: hide its names here at once and remove them in every group this node has
   * written to, retrying until applied. Completes once this node's mirrors applied every removal
   * (or at once when the node stops or its session ended: then the session's end removes them).
   */
  private CompletableFuture<Void> processDied(Pid pid) {
    pending.addPid(pid);
    List<Group> all = groups().stream().filter(g -> g == main || g.used()).toList();
    CompletableFuture<Void> removed = new CompletableFuture<>();
    AtomicInteger left = new AtomicInteger(all.size());
    Runnable oneRemoved = () -> {
      if (left.decrementAndGet() == 0) {
        pending.removePid(pid);
        removed.complete(null);
      }
    };
    for (Group g : all) {
      reap(pid, g, oneRemoved, removed);
    }
    return removed;
  }

  private void reap(Pid pid, Group group, Runnable oneRemoved, CompletableFuture<Void> removed) {
    if (closed || expired) {
      removed.complete(null); // the session's end removes everything of this node; the names stay hidden here
      return;
    }
    if (group.session().ready().isCompletedExceptionally()) {
      oneRemoved.run(); // no session in this group: nothing of this node's can be there
      return;
    }
    group.session().ready().thenCompose(v -> group.writer().submit(Commands.unregisterPid(pid))).whenComplete((r, e) -> {
      if (e == null && r.getStatus() == Status.OK) {
        group.afterApplied(r.getRevision(), oneRemoved);
      } else if (!closed) {
        try {
          scheduler.schedule(() -> reap(pid, group, oneRemoved, removed), 500, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
          removed.complete(null); // the node stops: its session's end removes the names
        }
      } else {
        removed.complete(null);
      }
    });
  }

  /**
   * Called by a group's session keeper when that group's leader says this node's session is gone:
   * the node has lost names, so its processes die and it ends its session in the other groups too.
   */
  @Override
  public boolean selfFencing() {
    return config.selfFencing();
  }

  @Override
  public void sessionExpired(SessionKeeper keeper) {
    if (!expiring.compareAndSet(false, true)) {
      return;
    }
    expired = true;
    long lost = incarnation;
    processes.killAll();
    if (server != null) {
      // A voter stays in Raft whatever its session: it rejoins as a new incarnation rather than
      // lingering with a dead registry API (and, in groups it leads, no expiry duty)
      try {
        scheduler.execute(() -> rejoin(lost));
      } catch (java.util.concurrent.RejectedExecutionException stopping) {
        // the node stops: nothing to rejoin
      }
    } else {
      for (Group g : groups()) {
        if (g.session() == keeper && keeper.fenced()) {
          // expired in this node's own eyes only: the goodbye spares the leader the rest of the timeout
          g.writer().submit(Commands.expireSession(nodeId(), incarnation));
        } else if (g.session() != keeper) {
          // Say goodbye, and stop the heartbeats: should the goodbye be lost, the group's leader
          // expires the session after its timeout of silence.
          g.writer().submit(Commands.expireSession(nodeId(), incarnation));
          g.session().close(new SessionExpiredException(expiredMessage()));
        }
      }
    }
    try {
      config.listener().sessionExpired(nodeId(), lost);
    } catch (RuntimeException e) {
      LOG.warn("{}: the session listener threw", nodeId(), e);
    }
  }

  /**
   * A voter whose session expired goes on as a new incarnation: its processes died with the old
   * one (their names are gone); it opens a new session in every group, which supersedes the old
   * one wherever that is still open, and its API works again once those are open.
   */
  private void rejoin(long lost) {
    long next;
    synchronized (this) { // no partition opens meanwhile
      if (closed) {
        return;
      }
      try {
        next = DataDirIdentity.nextIncarnation(config.dataDir());
      } catch (RuntimeException e) { // the incarnation file cannot be written: try again
        LOG.warn("{}: rejoining after the expiry of incarnation {} failed ({}); trying again in {} ms", nodeId(), lost,
            e.getMessage(), REJOIN_RETRY_MILLIS);
        try {
          scheduler.schedule(() -> rejoin(lost), REJOIN_RETRY_MILLIS, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
          // the node stops
        }
        return;
      }
      incarnation = next;
      processes.renew(next);
      messaging.renew(next);
      for (Group g : groups()) {
        g.renewSession();
      }
      expired = false;
      expiring.set(false);
      LOG.warn("{}: the session of incarnation {} expired; rejoined as incarnation {}", nodeId(), lost, next);
    }
    // the new sessions supersede the old one: its names are gone once they are open, so its dead
    // processes need hiding no more
    CompletableFuture.allOf(groups().stream().map(g -> g.session().ready()).toArray(CompletableFuture[]::new))
        .whenComplete((v, e) -> pending.forgetIncarnation(nodeId(), lost));
    try {
      config.listener().rejoined(nodeId(), lost, next);
    } catch (RuntimeException e) {
      LOG.warn("{}: the node listener threw", nodeId(), e);
    }
  }

  private static final long REJOIN_RETRY_MILLIS = 1_000;

  @Override
  public String toString() {
    return "node " + nodeId() + " (" + role() + ", incarnation " + incarnation + ")";
  }
}
