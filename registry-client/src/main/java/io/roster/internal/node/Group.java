package io.roster.internal.node;

// This file is large because a group is where the node's parts meet for one Raft group: its writer,
// session keeper, mirror source, read barrier and digest check are built, restarted and closed here
// together, under one life cycle.

import io.roster.Consistency;
import io.roster.MirrorLagException;
import io.roster.RegistryUnavailableException;
import io.roster.RosterException;
import io.roster.SessionExpiredException;
import io.roster.internal.Failures;
import io.roster.internal.NodeConfig;
import io.roster.internal.read.MirrorSource;
import io.roster.internal.read.ReadBarrier;
import io.roster.internal.read.StreamMirror;
import io.roster.internal.read.VoterMirror;
import io.roster.internal.session.SessionKeeper;
import io.roster.internal.transport.RatisWiring;
import io.roster.internal.transport.RenewableClient;
import io.roster.internal.write.Writer;
import io.roster.mirror.ChangeHistory;
import io.roster.mirror.Mirror;
import io.roster.proto.Barrier;
import io.roster.proto.Command;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.Result;
import io.roster.proto.Status;
import io.roster.ratis.RegistryStateMachine;
import io.roster.schema.Revisions;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ScheduledExecutorService;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * One Raft group as a node uses it: the cluster's group, or a partition of a partitioned registry.
 * Each group has its own log and leader, so a node keeps, per group, its own clients, group
 * commit, read barrier, mirror and session (a group's leader expires the silent sessions of that
 * group on its own).
 */
final class Group {
  private final Node node;
  private final String label;
  private final RaftGroup raftGroup;
  private final RaftServer server; // null on a client
  private final RegistryStateMachine stateMachine; // null on a client
  private final MirrorSource mirror;
  private final RenewableClient writeClient;
  private final RenewableClient readClient;
  private final Map<RaftPeerId, RenewableClient> heartbeatClients = new LinkedHashMap<>();
  private final Writer writer;
  private final ReadBarrier barrier;
  /** This node's session in the group; a voter that rejoins after its session expired makes a new one. */
  private volatile SessionKeeper session;
  private final ScheduledExecutorService scheduler;
  private final long sessionTimeoutMillis;
  /** Test only: linearizable reads skip their barrier (the fault suite must catch the stale reads). */
  private final boolean unsafeReads = Boolean.getBoolean(Node.UNSAFE_READS_PROPERTY);
  /** Whether this node has written to the group: only then can its processes hold anything there. */
  private volatile boolean used;

  /**
   * Opens this node's use of {@code raftGroup}; on a voter, the server must host the group.
   *
   * @param label the group in thread names and logs: "cluster" or "registry#partition"
   */
  Group(Node node, NodeConfig config, RaftServer server, RaftGroup raftGroup, String label,
      ScheduledExecutorService scheduler) {
    this.node = node;
    this.label = label;
    this.raftGroup = raftGroup;
    this.server = server;
    if (server != null) {
      try {
        this.stateMachine = (RegistryStateMachine) server.getDivision(raftGroup.getGroupId()).getStateMachine();
      } catch (IOException e) {
        throw new RosterException("node " + config.nodeId() + " does not host the group of " + label + ": "
            + e.getMessage(), e);
      }
      this.mirror = new VoterMirror(stateMachine, config.nodeId());
    } else {
      this.stateMachine = null;
      this.mirror = new StreamMirror(config.nodeId() + "-" + label,
          RatisWiring.streamClient(raftGroup, config, StreamMirror.POLL_TIMEOUT_MILLIS),
          RatisWiring.streamClient(raftGroup, config, StreamMirror.LOAD_TIMEOUT_MILLIS),
          raftGroup.getPeers().stream().toList(), () -> session == null ? Optional.empty() : knownLeader());
    }
    String prefix = "roster-" + config.nodeId() + (label.equals(Node.CLUSTER_LABEL) ? "" : "-" + label);
    RenewableClient writes = null;
    RenewableClient reads = null;
    try {
      // a replaced client stays open until every request it carries has had all its tries
      long retireMillis = RatisWiring.clientRetrySpanMillis(config) + 1_000;
      long drainMillis = RatisWiring.clientAttemptSpanMillis(config);
      writes = new RenewableClient(prefix + "-writes", this::firstTry,
          (leader, stopped) -> RatisWiring.client(raftGroup, config, leader, stopped), retireMillis, drainMillis);
      reads = new RenewableClient(prefix + "-reads", this::firstTry,
          (leader, stopped) -> RatisWiring.client(raftGroup, config, leader, stopped), retireMillis, drainMillis);
      for (RaftPeer voter : raftGroup.getPeers()) {
        heartbeatClients.put(voter.getId(), new RenewableClient(prefix + "-heartbeats-" + voter.getId(),
            this::firstTry, (leader, stopped) -> RatisWiring.heartbeatClient(raftGroup, config, leader, stopped),
            retireMillis, drainMillis));
      }
      this.writer = new Writer(prefix + "-group-commit", config.nodeId(), writes, config.requestTimeout().toMillis(),
          config.batching().settings(), voterIds(raftGroup), this::knownLeader);
    } catch (RuntimeException e) { // close what was made
      Failures.closeQuietly(writes);
      Failures.closeQuietly(reads);
      heartbeatClients.values().forEach(Failures::closeQuietly);
      mirror.close();
      throw e;
    }
    this.writeClient = writes;
    this.readClient = reads;
    this.barrier = new ReadBarrier(ReadBarrier.retrying(this::takeBarrier, Group::passingReadFailure,
        config.requestTimeout().toMillis(), scheduler));
    this.scheduler = scheduler;
    this.sessionTimeoutMillis = config.sessionTimeout().toMillis();
    this.session = new SessionKeeper(node, label, writer, heartbeatClients, scheduler, sessionTimeoutMillis,
        firstTry(0));
    if (mirror instanceof StreamMirror stream) {
      stream.start(session.openIndex(), session::over); // voters stream to members only
    }
    this.consistency = stateMachine == null ? null : new ConsistencyCheck(config.nodeId(), label, stateMachine,
        heartbeatClients, this::currentVoters, scheduler, this::leading);
  }

  /** The cross-peer check of this group's replicas; null on a client node. */
  private final ConsistencyCheck consistency;

  /**
   * Proposes a digest check (a voter's duty, or an operator's) and completes with this voter's
   * report of it: each replica's digest at the check's entry and the majority's.
   */
  CompletableFuture<io.roster.ConsistencyReport> checkConsistency() {
    if (consistency == null) {
      return CompletableFuture.failedFuture(new IllegalStateException("only a voter checks its replicas"));
    }
    return writer.submit(io.roster.schema.Commands.digestCheck()).thenCompose(r -> {
      if (r.getStatus() != Status.OK) {
        return CompletableFuture.failedFuture(new RosterException("digest check refused: " + r.getStatus() + " "
            + r.getDetail()));
      }
      long index = Revisions.index(r.getRevision());
      // the leader answered: this voter digests its state once it has applied the check itself
      return mirror.awaitApplied(index, node.timeoutMillis()).thenCompose(applied -> consistency.report(index));
    });
  }

  /** The voters of this group's current Raft configuration, as this voter knows it. */
  private java.util.Collection<RaftPeer> currentVoters() {
    try {
      return server.getDivision(raftGroup.getGroupId()).getRaftConf().getCurrentPeers();
    } catch (IOException e) {
      return raftGroup.getPeers();
    }
  }

  /** Whether this voter leads the group now. */
  boolean leading() {
    return server != null && localLeaderId().map(id -> id.equals(server.getId())).orElse(false);
  }

  static String voterIds(RaftGroup group) {
    return String.join(", ", group.getPeers().stream().map(p -> p.getId().toString()).toList());
  }

  /**
   * The voter the n-th client of a kind tries first: the group's preferred leader (a partition's
   * voter of highest priority) or Ratis' choice, then each voter in turn.
   */
  private RaftPeerId firstTry(int n) {
    if (n == 0) {
      return raftGroup.getPeers().stream().filter(p -> p.getPriority() > 0)
          .max(java.util.Comparator.comparingInt(RaftPeer::getPriority)).map(RaftPeer::getId).orElse(null);
    }
    return raftGroup.getPeers().stream().skip(n % raftGroup.getPeers().size()).findFirst()
        .map(RaftPeer::getId).orElse(null);
  }

  /** The leader this node knows without asking Ratis (its own Raft state, or the heartbeats' answers). */
  private Optional<RaftPeerId> knownLeader() {
    // a leader this node's clients do not list (a voter added since) is found through Ratis' redirects,
    // which also teach the clients its address
    return session.knownLeader().filter(id -> raftGroup.getPeer(id) != null);
  }

  /** Opens this node's session in the group (and, on a voter, takes up the leader's expiry duty). */
  void start() {
    session.start(stateMachine, this::leaderTerm, this::localLeaderId);
  }

  /**
   * A voter's rejoin: stops the keeper of the session that expired and opens a new session, as the
   * node's new incarnation (which supersedes the old one's everywhere it is still open).
   */
  void renewSession() {
    if (stateMachine == null) {
      throw new IllegalStateException("a client node does not rejoin: it is restarted");
    }
    SessionKeeper old = session;
    session = new SessionKeeper(node, label, writer, heartbeatClients, scheduler, sessionTimeoutMillis, firstTry(0));
    old.close();
    session.start(stateMachine, this::leaderTerm, this::localLeaderId);
  }

  String label() {
    return label;
  }

  RaftGroup raftGroup() {
    return raftGroup;
  }

  RegistryStateMachine stateMachine() {
    return stateMachine;
  }

  Mirror mirror() {
    return mirror.mirror();
  }

  ChangeHistory history() {
    return mirror.history();
  }

  SessionKeeper session() {
    return session;
  }

  boolean used() {
    return used;
  }

  Writer writer() {
    return writer;
  }

  /**
   * Adds to {@code notReady} what keeps this group from serving here now, one line each (see
   * {@link io.roster.Health}); nothing in one group calls for a restart.
   */
  void health(java.util.List<String> notReady) {
    if (stateMachine != null && stateMachine.stopped() != null) {
      // not a reason to restart: a restart does not mend a corrupt or diverged store (and would forget
      // a divergence found in memory); the member is to be replaced
      notReady.add(label + ": this replica stopped serving (replace the member): " + stateMachine.stopped());
      return;
    }
    SessionKeeper s = session;
    if (!s.ready().isDone() || s.ready().isCompletedExceptionally()) {
      notReady.add(label + ": this node's session is not open");
    } else {
      long unheard = s.unheardMillis();
      long bound = 2 * s.timeoutMillis() / 3; // two heartbeat periods
      if (unheard > bound) {
        notReady.add(label + ": no leader has heard this node for " + unheard + " ms");
      }
    }
    if (s.knownLeader().isEmpty()) { // a voter's own Raft state, else the last heartbeat answers
      notReady.add(label + ": no leader known");
    }
    if (server != null) {
      try {
        org.apache.ratis.server.RaftServer.Division d = server.getDivision(raftGroup.getGroupId());
        if (!d.getInfo().isAlive() && !node.isClosed()) {
          notReady.add(label + ": Raft shut this voter's replica of the group down (it found itself outside the "
              + "group's configuration, or its log or state machine failed: see the log); it serves nothing "
              + "until the node restarts, or is removed and added again");
          return;
        }
        long lag = d.getRaftLog().getLastCommittedIndex() - d.getInfo().getLastAppliedIndex();
        if (lag > io.roster.Health.APPLY_LAG_MAX) {
          notReady.add(label + ": " + lag + " committed entries not applied yet");
        }
      } catch (IOException e) {
        notReady.add(label + ": this voter does not host the group yet");
      }
    } else if (mirror instanceof StreamMirror stream) {
      long silent = stream.silentMillis();
      if (!stream.loaded()) {
        notReady.add(label + ": the change stream has not loaded the state yet");
      } else if (silent > STREAM_SILENCE_MAX_MILLIS) {
        notReady.add(label + ": the change stream has had no answer for " + silent + " ms");
      }
    }
  }

  /** A client's change stream silent longer than this is not ready (a voter answers twice a second). */
  static final long STREAM_SILENCE_MAX_MILLIS = 3 * StreamMirror.POLL_TIMEOUT_MILLIS;

  /** The leader this node knows of. */
  Optional<RaftPeerId> leader() {
    if (server != null) {
      return localLeaderId();
    }
    return Optional.ofNullable(writeClient.get().getLeaderId());
  }

  /** This voter's Raft division; empty on a client or before the division exists. */
  private Optional<DivisionInfo> division() {
    if (server == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(server.getDivision(raftGroup.getGroupId()).getInfo());
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private Optional<RaftPeerId> localLeaderId() {
    return division().map(DivisionInfo::getLeaderId);
  }

  /** The current term while this voter is the group's ready leader; empty otherwise (and on a client). */
  private OptionalLong leaderTerm() {
    return division().filter(DivisionInfo::isLeaderReady)
        .map(info -> OptionalLong.of(info.getCurrentTerm()))
        .orElse(OptionalLong.empty());
  }

  /**
   * Sends a write once this group's session is open; completes with its result, whatever its
   * status, once this node's mirror has applied it (see {@link #visibleHere}). One deadline, the
   * request timeout from now, bounds the wait for the session and the commit together.
   */
  CompletableFuture<Result> writeResult(Command command) {
    if (node.isClosed()) {
      return CompletableFuture.failedFuture(new IllegalStateException("node " + node.nodeId() + " is closed"));
    }
    if (node.expired()) {
      return CompletableFuture.failedFuture(new SessionExpiredException(node.expiredMessage()));
    }
    used = true;
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(node.timeoutMillis());
    CompletableFuture<Result> result = sessionReady(deadline)
        .thenCompose(v -> writer.submit(command, deadline))
        .thenApply(r -> {
          SessionKeeper keeper = session;
          if (r.getStatus() == Status.SESSION_EXPIRED && r.getEndedSession().getNodeId().equals(node.nodeId())
              && r.getEndedSession().getIncarnation() == keeper.incarnation()) {
            keeper.expire(r.getDetail()); // this node's own session ended
          }
          return r;
        });
    CompletableFuture<Result> visible = result.thenCompose(this::visibleHere);
    NodeMetrics metrics = node.metrics();
    if (!metrics.on()) {
      return visible;
    }
    long started = metrics.start();
    return visible.whenComplete((r, e) -> metrics.written(started, label, command, r, e));
  }

  /** This group's session, open before {@code deadline} (System.nanoTime), or the reason it is not. */
  private CompletableFuture<Void> sessionReady(long deadline) {
    CompletableFuture<Void> ready = session.ready();
    if (ready.isDone()) {
      return ready;
    }
    return ready.copy().orTimeout(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)
        .exceptionally(e -> {
          Throwable cause = Failures.cause(e);
          if (cause instanceof java.util.concurrent.TimeoutException) {
            throw Writer.unavailable("this node's session in " + label + " did not open within "
                + node.timeoutMillis() + " ms", voterIds(raftGroup), null, cause);
          }
          throw Failures.unwrap(cause);
        });
  }

  /**
   * Completes with a write's result once this node's mirror has applied the write: then every
   * later read on this node sees it or something newer (read-your-writes and monotonic reads per
   * node). On a leader the mirror applied it before the reply; a follower or a client waits for
   * its own apply, bounded by the request timeout. A committed write whose apply does not arrive
   * in time fails with {@link MirrorLagException}; a refused one is reported as it is.
   */
  CompletableFuture<Result> visibleHere(Result r) {
    long index = Revisions.index(r.getRevision());
    CompletableFuture<Long> applied = index == 0 ? CompletableFuture.completedFuture(0L)
        : mirror.awaitApplied(index, node.timeoutMillis());
    if (applied.isDone() && !applied.isCompletedExceptionally()) {
      return CompletableFuture.completedFuture(r); // the usual case on the leader: no thread hop
    }
    // completed off the thread that applies (the caller's continuation may block on another write)
    return applied.handleAsync((i, error) -> {
      if (error != null && r.getStatus() == Status.OK) {
        throw new MirrorLagException("the write was committed at revision " + r.getRevision() + ", but this node's "
            + "mirror of " + label + " did not apply it within " + node.timeoutMillis() + " ms (it is at revision "
            + appliedRevision() + "); local reads here may not show it yet",
            r.getRevision(), Failures.cause(error));
      }
      return r;
    }, node.callbackExecutor());
  }


  /** Sends a write; completes with its revision or the exception of its status. */
  CompletableFuture<Long> write(Command command, String key) {
    return writeResult(command).thenApply(r -> Writer.revisionOrThrow(r, key));
  }

  /** Completes once this node's mirror of the group satisfies {@code consistency}. */
  CompletableFuture<Long> reach(Consistency consistency) {
    long timeoutMillis = node.timeoutMillis();
    if (consistency.linearizable() && !unsafeReads) {
      CompletableFuture<Long> read = node.withTimeout(barrier.join()
          .thenCompose(index -> mirror.awaitApplied(index, timeoutMillis)), "a linearizable read");
      NodeMetrics metrics = node.metrics();
      if (!metrics.on()) {
        return read;
      }
      long started = metrics.start();
      return read.whenComplete((i, e) -> metrics.consistentRead(started));
    }
    if (consistency.revision() > 0) {
      long revision = consistency.revision();
      return mirror.awaitApplied(Revisions.index(revision), timeoutMillis).exceptionally(e -> {
        Throwable cause = Failures.cause(e);
        if (cause instanceof java.util.concurrent.TimeoutException) {
          throw new RegistryUnavailableException("revision " + revision + " was not reached within " + timeoutMillis
              + " ms: this node's mirror of " + label + " has applied up to revision "
              + appliedRevision() + " (a revision of another partition or "
              + "cluster is never reached here; or this node is cut off from the voters)", cause);
        }
        throw Failures.unwrap(cause);
      });
    }
    return CompletableFuture.completedFuture(0L);
  }

  /** The highest revision this node's mirror of the group has applied. */
  long appliedRevision() {
    return Revisions.entryEnd(mirror.mirror().appliedIndex());
  }

  /** Runs {@code action} once this node's mirror has applied {@code revision} (or gave up waiting). */
  void afterApplied(long revision, Runnable action) {
    mirror.awaitApplied(Revisions.index(revision), node.timeoutMillis()).whenComplete((i, e) -> action.run());
  }

  /** This group as this node sees it now (see {@link io.roster.NodeStatus.Group}). */
  io.roster.NodeStatus.Group status() {
    Optional<DivisionInfo> d = division();
    String role = server == null ? "CLIENT" : d.map(i -> i.getCurrentRole().name()).orElse("NOT_HOSTED");
    long term = d.map(DivisionInfo::getCurrentTerm).orElse(-1L);
    SessionKeeper s = session;
    boolean open = s.ready().isDone() && !s.ready().isCompletedExceptionally() && !node.expired();
    return new io.roster.NodeStatus.Group(label, raftGroup.getGroupId().getUuid().toString(), role,
        knownLeader().map(RaftPeerId::toString).orElse(null), term, commitIndex(), mirror.mirror().appliedIndex(),
        open, mirror.source().orElse(null), registrations());
  }

  /**
   * The registrations of each registry held in this group, as this node's mirror has them (a
   * partitioned registry: its share in this partition group; in the cluster's group only its
   * descriptor, so it is left out there).
   */
  java.util.Map<String, Long> registrations() {
    Mirror m = mirror.mirror();
    java.util.Map<String, Long> out = new java.util.TreeMap<>();
    for (io.roster.schema.RegistryDescriptor r : m.registries()) {
      Mirror.RegistryState state = m.registryState(r.name());
      if (state != null && r.partitions() <= 1) {
        out.put(r.name(), state.size());
      }
    }
    return out;
  }

  /** Whether this node knows the group's leader (see {@link #knownLeader}). */
  boolean hasLeader() {
    return knownLeader().isPresent();
  }

  /** Read barriers this node asked of the leader since it started. */
  long barriersTaken() {
    return barriers.sum();
  }

  /** The group's commit index as this voter knows it; -1 on a client or when the group is not open here. */
  long commitIndex() {
    try {
      return server == null ? -1 : server.getDivision(raftGroup.getGroupId()).getRaftLog().getLastCommittedIndex();
    } catch (IOException e) {
      return -1;
    }
  }

  /** On a client: milliseconds since its change stream's last answer (-1 before the first); -1 on a voter. */
  long streamSilentMillis() {
    return mirror instanceof StreamMirror stream ? stream.silentMillis() : -1;
  }

  private final java.util.concurrent.atomic.LongAdder barriers = new java.util.concurrent.atomic.LongAdder();

  private CompletableFuture<Long> takeBarrier() {
    barriers.increment();
    Query q = Query.newBuilder().setBarrier(Barrier.getDefaultInstance()).build();
    Message m = Message.valueOf(UnsafeByteOperations.unsafeWrap(q.toByteArray()));
    // A voter reads through itself: Ratis asks the leader for the read index and waits until this
    // peer has applied it. A client asks the leader and then waits for its own mirror.
    // Unordered: barriers need no order among themselves, and Ratis' ordered path logs every
    // failed attempt (a leader change) at ERROR; the unordered one retries quietly.
    RaftPeerId self = server != null ? RaftPeerId.valueOf(node.nodeId()) : null;
    CompletableFuture<RaftClientReply> reply = readClient.call(server != null ? Optional.empty() : knownLeader(),
        used -> used.async().sendReadOnlyUnordered(m, self));
    return reply.thenApply(r -> {
      if (!r.isSuccess()) {
        throw Writer.unavailable("the read barrier of " + label + " failed", voterIds(raftGroup),
            readClient.get().getLeaderId(), r.getException());
      }
      try {
        return QueryResult.parseFrom(r.getMessage().getContent().toByteArray()).getAppliedIndex();
      } catch (Exception e) {
        throw new RosterException("the barrier reply does not decode: " + e, e);
      }
    });
  }

  /**
   * A barrier failure that a later try may not meet: Ratis refuses a read index while the voter
   * knows no leader (at start, during an election), when the leader steps down or has not yet
   * committed in its term, and while a snapshot is being installed.
   */
  static boolean passingReadFailure(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof org.apache.ratis.protocol.exceptions.ReadIndexException
          || t instanceof org.apache.ratis.protocol.exceptions.ReadException
          || t instanceof org.apache.ratis.protocol.exceptions.LeaderNotReadyException
          || t instanceof org.apache.ratis.protocol.exceptions.NotLeaderException) {
        return true;
      }
    }
    return false;
  }

  /** Stops the session keeper (without ending the session) and closes the clients and the mirror. */
  void close() {
    session.close();
    writer.close();
    // every client stops retrying first, so that their drains overlap
    heartbeatClients.values().forEach(RenewableClient::stop);
    readClient.stop();
    writeClient.stop();
    heartbeatClients.values().forEach(Failures::closeQuietly);
    readClient.close();
    writeClient.close();
    mirror.close();
  }

  @Override
  public String toString() {
    return "group " + label + " (" + raftGroup.getGroupId() + ")";
  }
}
