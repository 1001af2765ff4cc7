package io.roster.internal;

import io.roster.Consistency;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Member;
import io.roster.MessageHandler;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.RegistryUnavailableException;
import io.roster.Role;
import io.roster.RosterException;
import io.roster.SessionExpiredException;
import io.roster.ValueCodec;
import io.roster.AlreadyRegisteredException;
import io.roster.AlreadyStartedException;
import io.roster.Via;
import io.roster.LimitExceededException;
import io.roster.RegistryListener;
import io.roster.Subscription;
import io.roster.statemachine.ChangeHistory;
import io.roster.statemachine.Commands;
import io.roster.statemachine.Mirror;
import io.roster.statemachine.RegistryStateMachine;
import io.roster.statemachine.Session;
import io.roster.statemachine.proto.Barrier;
import io.roster.statemachine.proto.Command;
import io.roster.statemachine.proto.CreateRegistry;
import io.roster.statemachine.proto.KeyMode;
import io.roster.statemachine.proto.Query;
import io.roster.statemachine.proto.QueryResult;
import io.roster.statemachine.proto.Result;
import io.roster.statemachine.proto.Status;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.Optional;
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
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running node: its Raft server (voters), its Ratis clients, its session, its processes and
 * registries. The public face is {@link RegistryNode}; this class is the wiring.
 */
public final class Node implements RegistryNode {
  private static final Logger LOG = LoggerFactory.getLogger(Node.class);

  private final NodeConfig config;
  private final long incarnation;
  private final RaftGroup group;
  private final RaftServer server; // null for a client
  private final RegistryStateMachine stateMachine; // null for a client
  private final MirrorSource mirror;
  private final RaftClient writeClient;
  private final RaftClient readClient;
  private final Map<RaftPeerId, RaftClient> heartbeatClients = new java.util.LinkedHashMap<>();
  private final Writer writer;
  private final ReadBarrier barrier;
  private final SessionKeeper session;
  private final ScheduledExecutorService scheduler;
  private final ExecutorService processExecutor;
  /** Runs watch subscriptions' deliveries; one task per subscription at a time. */
  private final ExecutorService watchExecutor;
  private final Set<Watch<?>> watches = ConcurrentHashMap.newKeySet();
  /** Watch subscriptions one node keeps at most. */
  static final int WATCHES_MAX = 1024;
  private final ProcessTable processes;
  private final PendingRemovals pending = new PendingRemovals();
  /** The key mode of each registry this node has created or opened. */
  private final Map<String, Keys> registries = new ConcurrentHashMap<>();
  private final long timeoutMillis;
  private volatile boolean closed;

  private Node(NodeConfig config, long incarnation, RaftServer server, RegistryStateMachine stateMachine,
      MirrorSource mirror, RaftGroup group) {
    this.config = config;
    this.incarnation = incarnation;
    this.server = server;
    this.stateMachine = stateMachine;
    this.mirror = mirror;
    this.group = group;
    this.timeoutMillis = config.requestTimeout().toMillis();
    this.writeClient = RatisWiring.client(group, config);
    this.readClient = RatisWiring.client(group, config);
    for (RaftPeer voter : group.getPeers()) {
      heartbeatClients.put(voter.getId(), RatisWiring.heartbeatClient(group, config));
    }
    this.writer = new Writer("roster-" + config.nodeId() + "-group-commit", writeClient, timeoutMillis,
        config.batching().settings());
    this.barrier = new ReadBarrier(this::takeBarrier);
    this.scheduler = Executors.newSingleThreadScheduledExecutor(threads("roster-" + config.nodeId() + "-session"));
    this.processExecutor = Executors.newFixedThreadPool(Math.max(2, Runtime.getRuntime().availableProcessors()),
        threads("roster-" + config.nodeId() + "-process"));
    this.watchExecutor = Executors.newCachedThreadPool(threads("roster-" + config.nodeId() + "-watch"));
    this.processes = new ProcessTable(config.nodeId(), incarnation, processExecutor, this::processDied);
    this.session = new SessionKeeper(this, writer, heartbeatClients, scheduler, config.sessionTimeout().toMillis());
  }

  /** Starts a node as the builder describes; see {@link RegistryNode.Builder#start()}. */
  public static Node start(NodeConfig config) {
    long incarnation = nextIncarnation(config.dataDir());
    RaftGroup group = RatisWiring.group(config);
    RaftServer server = null;
    RegistryStateMachine sm = null;
    MirrorSource mirror;
    if (config.role() == Role.VOTER) {
      sm = new RegistryStateMachine();
      try {
        server = RaftServer.newBuilder()
            .setServerId(RaftPeerId.valueOf(config.nodeId()))
            .setGroup(group)
            .setProperties(RatisWiring.serverProperties(config))
            .setStateMachine(sm)
            .setOption(RaftStorage.StartupOption.RECOVER)
            .build();
        server.start();
      } catch (IOException e) {
        closeQuietly(server);
        throw new RosterException("node " + config.nodeId() + " cannot start its Raft server on "
            + config.listenAddress() + ": " + e.getMessage(), e);
      }
      mirror = new VoterMirror(sm);
    } else {
      mirror = new StreamMirror(config.nodeId(), RatisWiring.streamClient(group, config), group.getPeers().stream().toList());
    }
    Node node = new Node(config, incarnation, server, sm, mirror, group);
    node.session.start(sm, node::leaderTerm, node::localLeaderId);
    LOG.info("node {} started as {} (incarnation {})", config.nodeId(), config.role(), incarnation);
    return node;
  }

  /**
   * A new incarnation, larger than every earlier one of this node: the wall clock in milliseconds,
   * or one more than the last one recorded in the data directory if the clock went back.
   */
  private static long nextIncarnation(Path dataDir) {
    long incarnation = System.currentTimeMillis();
    if (dataDir == null) {
      return incarnation;
    }
    Path file = dataDir.resolve("incarnation");
    try {
      Files.createDirectories(dataDir);
      if (Files.exists(file)) {
        long last = Long.parseLong(Files.readString(file, StandardCharsets.UTF_8).trim());
        incarnation = Math.max(incarnation, last + 1);
      }
      Path tmp = dataDir.resolve("incarnation.tmp");
      Files.writeString(tmp, Long.toString(incarnation), StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | NumberFormatException e) {
      throw new RosterException("cannot record the incarnation in " + file + ": " + e.getMessage(), e);
    }
    return incarnation;
  }

  private static ThreadFactory threads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
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
    return session.ready().thenApply(v -> null);
  }

  @Override
  public <V> Registry<V> registry(String name, Keys keys, ValueCodec<V> codec) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(keys, "keys");
    Objects.requireNonNull(codec, "codec");
    Keys existing = registries.get(name);
    if (existing == null) {
      KeyMode mode = keys == Keys.UNIQUE ? KeyMode.UNIQUE : KeyMode.DUPLICATE;
      Command create = Commands.createRegistry(CreateRegistry.newBuilder().setRegistry(name).setMode(mode).build());
      join(write(create, name));
      existing = registries.computeIfAbsent(name, n -> keys);
    }
    if (existing != keys) {
      throw new IllegalArgumentException("registry '" + name + "' has " + existing + " keys, not " + keys);
    }
    return new RegistryImpl<>(this, name, keys, codec);
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
    Registry<V> registry = registry(name.registry().name(), Keys.UNIQUE, name.registry().codec());
    LocalProcess process = spawn(handler);
    try {
      registry.register(name.key(), process, name.value());
      return process;
    } catch (AlreadyRegisteredException e) {
      process.close();
      throw new AlreadyStartedException(name.key(), e.owner());
    } catch (RuntimeException e) {
      process.close();
      throw e;
    }
  }

  /** The recent changes this node's mirror applied. */
  ChangeHistory history() {
    return mirror.history();
  }

  @Override
  public Optional<String> leader() {
    if (server != null) {
      return localLeaderId().map(RaftPeerId::toString);
    }
    return Optional.ofNullable(writeClient.getLeaderId()).map(RaftPeerId::toString);
  }

  /** This voter's Raft division; empty on a client or before the division exists. */
  private Optional<org.apache.ratis.server.DivisionInfo> division() {
    if (server == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(server.getDivision(group.getGroupId()).getInfo());
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** The leader this voter's Raft division knows; empty on a client or while there is none. */
  private Optional<RaftPeerId> localLeaderId() {
    return division().map(org.apache.ratis.server.DivisionInfo::getLeaderId);
  }

  /** The current term while this voter is the ready leader; empty otherwise (and on a client). */
  private java.util.OptionalLong leaderTerm() {
    return division().filter(org.apache.ratis.server.DivisionInfo::isLeaderReady)
        .map(info -> java.util.OptionalLong.of(info.getCurrentTerm()))
        .orElse(java.util.OptionalLong.empty());
  }

  @Override
  public List<Member> members() {
    List<Member> members = new ArrayList<>();
    for (Session s : mirror().openSessions()) {
      members.add(new Member(s.nodeId(), s.incarnation(), config.voters().containsKey(s.nodeId())));
    }
    members.sort(Comparator.comparing(Member::nodeId));
    return members;
  }

  @Override
  public Map<String, String> voters() {
    return config.voters();
  }

  /**
   * Leaves the cluster: ends this node's session in one command (removing every registration of its
   * processes), then stops its processes, clients and server.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    if (session.ready().isDone() && !session.ready().isCompletedExceptionally() && !session.expired()) {
      try {
        writer.submit(Commands.expireSession(nodeId(), incarnation)).get(timeoutMillis, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException | TimeoutException e) {
        LOG.info("{}: leaving without goodbye ({}); the leader will expire the session", nodeId(), e.getMessage());
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
    if (closed) {
      return;
    }
    closed = true;
    session.close();
    processes.killAll();
    scheduler.shutdownNow();
    processExecutor.shutdownNow();
    for (Watch<?> w : List.copyOf(watches)) {
      w.end(new RosterException("node " + nodeId() + " closed"));
    }
    watchExecutor.shutdownNow();
    writer.close();
    heartbeatClients.values().forEach(Node::closeQuietly);
    closeQuietly(readClient);
    closeQuietly(writeClient);
    mirror.close();
    closeQuietly(server);
    LOG.info("node {} stopped", nodeId());
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      LOG.warn("close of {} failed: {}", c, e.toString());
    }
  }

  // ---------------------------------------------------------------- for RegistryImpl and SessionKeeper

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("node " + nodeId() + " is closed");
    }
    if (session.expired()) {
      throw new SessionExpiredException("the session of node " + nodeId() + " expired; restart the node");
    }
  }

  /** This node's local mirror (fetch it for each read); for tests, tools and the demo. */
  public Mirror mirror() {
    return mirror.mirror();
  }

  PendingRemovals pending() {
    return pending;
  }

  /** The Raft server of a voter, or null on a client; for tools and benchmarks. */
  public RaftServer raftServer() {
    return server;
  }

  /** The Raft group of the cluster; for tools and benchmarks that talk to Ratis directly. */
  public RaftGroup raftGroup() {
    return group;
  }

  /** The Raft state machine of a voter, or null on a client; for tests and the demo. */
  public RegistryStateMachine stateMachine() {
    return stateMachine;
  }

  /** Starts a watch of {@code registry}'s events after {@code afterRevision} (-1: from now). */
  <V> Subscription watch(String registry, ValueCodec<V> codec, long afterRevision, RegistryListener<V> listener) {
    Objects.requireNonNull(listener, "listener");
    if (closed) {
      throw new IllegalStateException("node " + nodeId() + " is closed");
    }
    if (afterRevision < -1) {
      throw new IllegalArgumentException("afterRevision must be a revision, or -1 for from now; was " + afterRevision);
    }
    ChangeHistory history = mirror.history();
    boolean fromNow = afterRevision == -1;
    long from = fromNow ? history.appliedIndex() : afterRevision;
    Watch<V> w = new Watch<>(history, registry, codec, from, fromNow, listener, watchExecutor, watches::remove);
    synchronized (watches) {
      if (watches.size() >= WATCHES_MAX) {
        throw new LimitExceededException("a node keeps at most " + WATCHES_MAX + " watch subscriptions");
      }
      watches.add(w);
    }
    w.start();
    return w;
  }

  /** Validates that {@code process} is a live process of this node and returns its pid. */
  Pid ownProcess(LocalProcess process) {
    Objects.requireNonNull(process, "process");
    Pid pid = process.pid();
    if (!pid.nodeId().equals(nodeId()) || pid.incarnation() != incarnation) {
      throw new IllegalArgumentException(pid + " is not a process of node " + nodeId() + " incarnation " + incarnation);
    }
    if (processes.get(pid) == null) {
      throw new IllegalArgumentException(pid + " is not alive");
    }
    return pid;
  }

  /** Sends a write once the session is open; completes with its revision or the exception of its status. */
  CompletableFuture<Long> write(Command command, String key) {
    return withTimeout(writeResult(command).thenApply(r -> Writer.revisionOrThrow(r, key)), "the write");
  }

  /** Sends a write once the session is open; completes with its result, whatever its status. */
  CompletableFuture<Result> writeResult(Command command) {
    if (closed) {
      return CompletableFuture.failedFuture(new IllegalStateException("node " + nodeId() + " is closed"));
    }
    if (session.expired()) {
      return CompletableFuture.failedFuture(new SessionExpiredException(
          "the session of node " + nodeId() + " incarnation " + incarnation + " expired; restart the node"));
    }
    CompletableFuture<Result> result = session.ready()
        .thenCompose(v -> writer.submit(command))
        .thenApply(r -> {
          if (r.getStatus() == Status.SESSION_EXPIRED && r.getDetail().contains(nodeId() + " incarnation " + incarnation)) {
            session.expire(r.getDetail());
          }
          return r;
        });
    return withTimeout(result, "the write");
  }

  /** Blocks until the consistency is reached (see {@link Consistency}). */
  void await(Consistency consistency) {
    Objects.requireNonNull(consistency, "consistency");
    if (consistency.linearizable()) {
      join(withTimeout(barrier.join().thenCompose(index -> mirror.awaitApplied(index, timeoutMillis)),
          "a linearizable read"));
    } else if (consistency.revision() > 0) {
      join(withTimeout(mirror.awaitApplied(consistency.revision(), timeoutMillis), "a read at revision "
          + consistency.revision()));
    }
  }

  /** Runs {@code action} once this node's mirror has applied {@code revision} (or gave up waiting). */
  void afterApplied(long revision, Runnable action) {
    mirror.awaitApplied(revision, timeoutMillis).whenComplete((i, e) -> action.run());
  }

  private CompletableFuture<Long> takeBarrier() {
    Query q = Query.newBuilder().setBarrier(Barrier.getDefaultInstance()).build();
    Message m = Message.valueOf(UnsafeByteOperations.unsafeWrap(q.toByteArray()));
    // A voter reads through itself: Ratis asks the leader for the read index and waits until this
    // peer has applied it. A client asks the leader and then waits for its own mirror.
    CompletableFuture<org.apache.ratis.protocol.RaftClientReply> reply = server != null
        ? readClient.async().sendReadOnly(m, RaftPeerId.valueOf(nodeId()))
        : readClient.async().sendReadOnly(m);
    return reply.thenApply(r -> {
      if (!r.isSuccess()) {
        throw new RegistryUnavailableException("the read barrier failed: " + r.getException(), r.getException());
      }
      try {
        return QueryResult.parseFrom(r.getMessage().getContent().toByteArray()).getAppliedIndex();
      } catch (Exception e) {
        throw new RosterException("the barrier reply does not decode: " + e, e);
      }
    });
  }

  private <T> CompletableFuture<T> withTimeout(CompletableFuture<T> f, String what) {
    return f.orTimeout(timeoutMillis, TimeUnit.MILLISECONDS).exceptionally(e -> {
      Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
      if (cause instanceof TimeoutException) {
        throw new RegistryUnavailableException(what + " did not complete within " + timeoutMillis
            + " ms: no leader or no quorum", cause);
      }
      if (cause instanceof IOException) { // Ratis: no leader, read index refused, connection lost
        throw new RegistryUnavailableException(what + " failed: " + cause.getMessage(), cause);
      }
      throw Writer.unwrap(cause);
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
      throw Writer.unwrap(e);
    }
  }

  /** A process died: hide its names here at once and remove them everywhere, retrying until applied. */
  private void processDied(Pid pid) {
    pending.addPid(pid);
    reap(pid);
  }

  private void reap(Pid pid) {
    if (closed || session.expired()) {
      pending.removePid(pid); // the session's end removes everything of this node
      return;
    }
    session.ready().thenCompose(v -> writer.submit(Commands.unregisterPid(pid))).whenComplete((r, e) -> {
      if (e == null && r.getStatus() == Status.OK) {
        afterApplied(r.getRevision(), () -> pending.removePid(pid));
      } else if (!closed) {
        scheduler.schedule(() -> reap(pid), 500, TimeUnit.MILLISECONDS);
      }
    });
  }

  /** Called by the session keeper when the leader says this node's session is gone. */
  void sessionExpired() {
    processes.killAll();
    try {
      config.listener().sessionExpired(nodeId(), incarnation);
    } catch (RuntimeException e) {
      LOG.warn("{}: the session listener threw", nodeId(), e);
    }
  }

  @Override
  public String toString() {
    return "node " + nodeId() + " (" + role() + ", incarnation " + incarnation + ")";
  }
}
