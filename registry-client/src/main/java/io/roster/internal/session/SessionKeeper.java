package io.roster.internal.session;

import io.roster.SessionExpiredException;
import io.roster.internal.RateLimitedLog;
import io.roster.internal.transport.RenewableClient;
import io.roster.internal.write.Writer;
import io.roster.proto.Heartbeat;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.Status;
import io.roster.ratis.RegistryStateMachine;
import io.roster.schema.Commands;
import io.roster.schema.Session;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this node's session: opens it (retrying until a quorum answers), heartbeats to the leader
 * outside the log every third of the timeout, and notices when the leader says it expired. On a
 * voter that leads, also proposes the expiry of other nodes' silent sessions.
 *
 * <p><b>Self-fencing.</b> The keeper also expires the session in its own eyes when no leader has
 * heard it for the session timeout less two fence checks. A beat sent at s and answered by a leader
 * whose majority last heard it {@code age} ago counts as heard at s − max(0, age + 100 ms − the
 * minimum election timeout): no later leader can have begun its term before then
 * ({@link io.roster.ratis.LeaderContact}). A leader expires a session only after a full timeout of
 * silence counted from when it heard a beat, and a later leader counts from when it took office. So
 * a partitioned or paused node knows its session is lost (its processes die, its lock holders are
 * told, its writes are refused) before any leader can hand its names or locks to someone else. The
 * decision sticks: an answer that arrives after the deadline does not revive the session (its
 * expiry may be on its way).
 *
 * <p><b>Why one class.</b> Opening, beating, fencing and the leader's expiry duty all read and write
 * the same few facts of one session (its incarnation, when it was last heard, whether it is over)
 * on one scheduler; the beats' answers move the fence and the fence stops the beats. Split apart,
 * those facts would have to be shared across classes with the same care.
 */
public final class SessionKeeper {
  /** The node whose session a keeper holds: who it is, and whom it tells when the session is gone. */
  public interface Owner {
    /** The node's id. */
    String nodeId();

    /** The node's incarnation now (a keeper holds the session of the one it was made in). */
    public long incarnation();

    /** Where the node's processes receive messages, published in its session. */
    String messageAddress();

    /** Called when a group's leader says this node's session is gone. */
    void sessionExpired(SessionKeeper keeper);

    /** Whether the keeper ends the session itself once no leader has heard it for its timeout. */
    default boolean selfFencing() {
      return true;
    }
  }

  private static final Logger LOG = LoggerFactory.getLogger(SessionKeeper.class);
  private static final long RETRY_MILLIS = 250;
  private static final long EXPIRY_CHECK_MILLIS = 200;
  private static final long REFUSED_RETRY_MILLIS = 5_000;
  private static final RateLimitedLog REFUSALS = new RateLimitedLog(LOG, 60_000);

  private final Owner node;
  /** The incarnation whose session this keeper holds (a voter that rejoins makes a new keeper). */
  private final long incarnation;
  /** The group this keeper holds the session in, for logs. */
  private final String label;
  private final Writer writer;
  /**
   * One heartbeat client per voter: a Ratis client orders its requests, so a beat stuck retrying
   * against a dead voter would hold back the beats to the live ones behind it.
   */
  private final Map<org.apache.ratis.protocol.RaftPeerId, RenewableClient> heartbeatClients;
  private final ScheduledExecutorService scheduler;
  private final long timeoutMillis;
  private final java.util.List<org.apache.ratis.protocol.RaftPeerId> voters;
  private final CompletableFuture<Void> ready = new CompletableFuture<>();
  /** The Raft index of the entry that opened the session, once it is open. */
  private final CompletableFuture<Long> openIndex = new CompletableFuture<>();
  private volatile boolean expired;
  private volatile boolean closed;
  /**
   * When (nanoTime) this session was last heard, as far as any leader can tell: the send time of the
   * latest beat (or of the OpenSession) a leader answered, less any doubt about that leader's
   * standing ({@link #heard}); meaningful once the session is open.
   */
  private final java.util.concurrent.atomic.AtomicLong heardSentNanos = new java.util.concurrent.atomic.AtomicLong();
  private volatile boolean opened;
  private volatile RegistryStateMachine local; // this voter's state machine, or null on a client
  private volatile java.util.function.Supplier<java.util.Optional<org.apache.ratis.protocol.RaftPeerId>> localLeader =
      java.util.Optional::empty;
  /** The voter that last answered a beat as the leader; null until one did. */
  private volatile org.apache.ratis.protocol.RaftPeerId leaderHint;
  private static final java.util.concurrent.atomic.AtomicLong BEATS = new java.util.concurrent.atomic.AtomicLong();
  /** How long the first OpenSession waits to learn the group's leader before it is sent anyway. */
  private static final long LEADER_WAIT_MILLIS = 3_000;
  /**
   * A client's probes for the leader: the first after 50 ms, each next pause doubling up to 200 ms.
   * Every keeper of a new partition group probes while the group elects, so a fixed 50 ms to every
   * voter was hundreds of requests a second at the moment the group's voters had least to spare.
   */
  private static final long LEADER_PROBE_MILLIS = 50;
  private static final long LEADER_PROBE_MAX_MILLIS = 200;
  private long leaderWaitedMillis;
  private long probePauseMillis = LEADER_PROBE_MILLIS;
  /** Probes sent for the leader, one per voter asked. */
  private final java.util.concurrent.atomic.AtomicLong leaderProbes = new java.util.concurrent.atomic.AtomicLong();
  /** The voter Ratis hands a partition's leadership to once it is up (its priority); null for none. */
  private final org.apache.ratis.protocol.RaftPeerId preferredLeader;
  /** How long the first OpenSession waits for the preferred voter to take over from a first leader. */
  private static final long PREFERRED_WAIT_MILLIS = 1_500;

  public SessionKeeper(Owner node, String label, Writer writer,
      Map<org.apache.ratis.protocol.RaftPeerId, RenewableClient> heartbeatClients, ScheduledExecutorService scheduler,
      long timeoutMillis, org.apache.ratis.protocol.RaftPeerId preferredLeader) {
    this.preferredLeader = preferredLeader;
    this.label = label;
    this.heartbeatClients = Map.copyOf(heartbeatClients);
    this.voters = heartbeatClients.keySet().stream().sorted(java.util.Comparator.comparing(Object::toString)).toList();
    this.node = node;
    this.incarnation = node.incarnation();
    this.writer = writer;
    this.scheduler = scheduler;
    this.timeoutMillis = timeoutMillis;
  }

  /** The incarnation whose session this keeper holds. */
  public long incarnation() {
    return incarnation;
  }

  public CompletableFuture<Void> ready() {
    return ready;
  }

  /** Completes with the Raft index of the entry that opened the session; fails as {@link #ready()} does. */
  public CompletableFuture<Long> openIndex() {
    return openIndex;
  }

  /**
   * The leader as this node knows it without asking Ratis: a voter's own Raft state, else the voter
   * that last answered a heartbeat as the leader; empty if neither knows.
   */
  public java.util.Optional<org.apache.ratis.protocol.RaftPeerId> knownLeader() {
    java.util.Optional<org.apache.ratis.protocol.RaftPeerId> local = localLeader.get();
    return local.isPresent() ? local : java.util.Optional.ofNullable(leaderHint);
  }

  /**
   * How many probes for the leader this keeper sent before its session opened, one per voter asked
   * (none on a voter). A local counter: no request, never throws.
   */
  public long leaderProbes() {
    return leaderProbes.get();
  }

  /**
   * How long ago, in milliseconds, the latest beat a leader answered was sent (as {@link #heard}
   * counts it); -1 while the session is not open.
   */
  public long unheardMillis() {
    if (!opened) {
      return -1;
    }
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - heardSentNanos.get());
  }

  /** The session timeout this keeper holds the session under. */
  public long timeoutMillis() {
    return timeoutMillis;
  }

  /** Whether this session is over here: expired, or closed (the node's other session expired, or it stops). */
  public boolean over() {
    return expired || closed;
  }

  boolean expired() {
    return expired;
  }

  /**
   * Starts the session; on a voter, {@code leaderTerm} tells the current term while this peer is the
   * ready leader (empty otherwise), and the keeper then expires silent sessions.
   */
  public void start(RegistryStateMachine leaderDuties, java.util.function.Supplier<java.util.OptionalLong> leaderTerm,
      java.util.function.Supplier<java.util.Optional<org.apache.ratis.protocol.RaftPeerId>> leaderId) {
    this.local = leaderDuties;
    this.localLeader = leaderId;
    scheduler.execute(this::open);
    if (leaderDuties != null) {
      tasks.add(scheduler.scheduleWithFixedDelay(() -> expireSilentSessions(leaderDuties, leaderTerm),
          EXPIRY_CHECK_MILLIS, EXPIRY_CHECK_MILLIS, TimeUnit.MILLISECONDS));
    }
  }

  /** The periodic tasks of this keeper, cancelled when it closes. */
  private final java.util.Queue<java.util.concurrent.Future<?>> tasks = new java.util.concurrent.ConcurrentLinkedQueue<>();

  public void close() {
    close(new IllegalStateException("node " + node.nodeId() + " is closed"));
  }

  /** Stops the beats; a session not yet open fails with {@code why}. */
  public void close(RuntimeException why) {
    closed = true;
    tasks.forEach(t -> t.cancel(false));
    ready.completeExceptionally(why);
    openIndex.completeExceptionally(why);
  }

  private void open() {
    if (closed) {
      return;
    }
    java.util.Optional<org.apache.ratis.protocol.RaftPeerId> leader = knownLeader();
    boolean handingOver = preferredLeader != null && leader.isPresent() && !leader.get().equals(preferredLeader)
        && leaderWaitedMillis < PREFERRED_WAIT_MILLIS;
    if ((leader.isEmpty() || handingOver) && leaderWaitedMillis < LEADER_WAIT_MILLIS) {
      // Learn the leader first (a new partition group is still electing, or not yet hosted by
      // every voter; or its first leader is about to hand over to the preferred voter): a write
      // sent blind is logged at ERROR by Ratis when it meets a non-leader.
      if (local == null) { // a voter learns the leader from its own Raft server, unasked
        Message probe = heartbeatMessage();
        voters.forEach(peer -> beat(probe, peer));
        leaderProbes.addAndGet(voters.size());
      }
      long pause = local == null ? probePauseMillis : LEADER_PROBE_MILLIS;
      probePauseMillis = Math.min(LEADER_PROBE_MAX_MILLIS, 2 * probePauseMillis);
      leaderWaitedMillis += pause;
      scheduler.schedule(this::open, pause, TimeUnit.MILLISECONDS);
      return;
    }
    long sentAt = System.nanoTime();
    writer.submit(Commands.openSession(node.nodeId(), incarnation, timeoutMillis, node.messageAddress())).whenComplete((r, e) -> {
      if (closed) {
        return;
      }
      if (e != null) {
        LOG.debug("{}: session in {} not open yet ({}); retrying", node.nodeId(), label, e.getMessage());
        scheduler.schedule(this::open, RETRY_MILLIS, TimeUnit.MILLISECONDS);
      } else if (r.getStatus() == Status.OK) {
        LOG.info("{}: session in {} open (incarnation {}, timeout {} ms)", node.nodeId(), label, incarnation,
            timeoutMillis);
        heardSentNanos.set(sentAt); // the leader counts the session's silence from after it committed
        opened = true;
        tasks.add(scheduler.scheduleWithFixedDelay(this::beatIfDue, 0, beatRetryMillis(), TimeUnit.MILLISECONDS));
        if (node.selfFencing()) {
          tasks.add(scheduler.scheduleWithFixedDelay(this::fenceIfUnheard, fenceCheckMillis(), fenceCheckMillis(),
              TimeUnit.MILLISECONDS));
        }
        if (closed) {
          tasks.forEach(t -> t.cancel(false)); // closed meanwhile
        }
        openIndex.complete(io.roster.schema.Revisions.index(r.getRevision()));
        ready.complete(null);
      } else if (local != null && r.getStatus() != Status.SESSION_EXPIRED) {
        // a voter has no one to restart it: it tries again (a session limit reached, say)
        REFUSALS.warn("{}: session in {} refused ({} {}); trying again in {} ms", node.nodeId(), label,
            r.getStatus(), r.getDetail(), REFUSED_RETRY_MILLIS);
        scheduler.schedule(this::open, REFUSED_RETRY_MILLIS, TimeUnit.MILLISECONDS);
      } else {
        SessionExpiredException refused = new SessionExpiredException("node " + node.nodeId()
            + " cannot open its session in " + label + ": " + r.getStatus() + " " + r.getDetail());
        openIndex.completeExceptionally(refused);
        ready.completeExceptionally(refused);
      }
    });
  }

  /** The beats' period while the session is heard: a third of the timeout. */
  private long beatPeriodMillis() {
    return Math.max(100, timeoutMillis / 3);
  }

  /**
   * The beats' period while no leader has heard the session for longer than a period (an election,
   * a leader not ready yet, lost answers): a fifteenth of the timeout, so that a session that lived
   * through a short outage is heard again well before it would fence itself.
   */
  private long beatRetryMillis() {
    return Math.max(100, timeoutMillis / 15);
  }

  private long lastBeatNanos = System.nanoTime() - TimeUnit.DAYS.toNanos(1); // the scheduler's thread only

  /** Beats once a period, or once a retry period while the session goes unheard. */
  private void beatIfDue() {
    long now = System.nanoTime();
    long sinceBeat = now - lastBeatNanos;
    boolean unheard = now - heardSentNanos.get() > TimeUnit.MILLISECONDS.toNanos(beatPeriodMillis() + beatRetryMillis());
    if (sinceBeat >= TimeUnit.MILLISECONDS.toNanos(beatPeriodMillis())
        || (unheard && sinceBeat >= TimeUnit.MILLISECONDS.toNanos(beatRetryMillis()))) {
      lastBeatNanos = now;
      heartbeat();
    }
  }

  private void heartbeat() {
    if (closed || expired) {
      return;
    }
    RegistryStateMachine sm = local;
    java.util.Optional<io.roster.proto.LeaderContact> ownContact = sm != null && sm.sessionTracker().leader()
        ? sm.leaderContact() : java.util.Optional.empty(); // empty too if this peer stepped down meanwhile
    if (ownContact.isPresent()) {
      Session own = sm.mirror().session(node.nodeId());
      if (own != null && (own.incarnation() > incarnation
          || (own.incarnation() == incarnation && own.expired()))) {
        // expired before this peer led (a leader that did not hear it), or by a newer incarnation
        expire("the leader's own state says incarnation " + own.incarnation() + (own.expired() ? " expired" : ""));
        return;
      }
      long sentAt = System.nanoTime();
      sm.sessionTracker().heartbeat(node.nodeId(), incarnation); // the leader hears itself
      heard(sentAt, ownContact.get());
      return;
    }
    Message m = heartbeatMessage();
    // A voter that knows the leader from Raft asks it directly. Otherwise (a client, or a voter that
    // has not heard from a leader since it started) the beat goes to every voter: the leader records
    // it and the others answer NOT_LEADER. Finding a new leader through a Ratis client's retries can
    // take longer than a short session timeout after the old leader crashed.
    var leader = localLeader.get();
    if (leader.isPresent() && !heartbeatClients.containsKey(leader.get())) {
      beatLeader(m); // a voter added after this node was configured
      return;
    }
    for (org.apache.ratis.protocol.RaftPeerId peer : leader.isPresent() ? java.util.List.of(leader.get()) : voters) {
      beat(m, peer);
    }
    if (System.nanoTime() - answeredAtNanos > 2 * TimeUnit.MILLISECONDS.toNanos(beatPeriodMillis())) {
      beatLeader(m); // no configured voter leads: the leader may be one added since
    }
  }

  /** When a leader last recorded one of this node's beats. */
  private volatile long answeredAtNanos = System.nanoTime();

  /**
   * A beat to whichever voter leads, found through Ratis' redirects (a read the leader answers
   * without a read index): the way to a leader that this node's configured voters do not list.
   */
  private void beatLeader(Message m) {
    RenewableClient any = heartbeatClients.get(voters.get(0));
    long sentAt = System.nanoTime();
    try {
      any.call(java.util.Optional.empty(), client -> org.apache.ratis.client.impl.UnorderedAsync.send(
              RaftClientRequest.readRequestType(true), m, null, (org.apache.ratis.client.impl.RaftClientImpl) client)
              .orTimeout(beatPeriodMillis(), TimeUnit.MILLISECONDS))
          .whenComplete((reply, e) -> {
            if (e == null && reply.isSuccess()) {
              answered(reply, sentAt);
            }
          });
    } catch (RuntimeException e) {
      LOG.debug("{}: heartbeat to the leader not sent: {}", node.nodeId(), e.toString());
    }
  }

  /** Reads a leader's answer to a beat sent at {@code sentAt}. */
  private void answered(org.apache.ratis.protocol.RaftClientReply reply, long sentAt) {
    try {
      QueryResult r = QueryResult.parseFrom(reply.getMessage().getContent().toByteArray());
      if (r.getStatus() == Status.OK) {
        answeredAtNanos = System.nanoTime();
        if (r.hasLeaderContact()) {
          heard(sentAt, r.getLeaderContact());
        } else {
          uncountedAnswers.incrementAndGet();
        }
        if (heartbeatClients.containsKey(reply.getServerId())) {
          leaderHint = reply.getServerId(); // only the leader records beats
        }
      }
      if (r.getStatus() == Status.SESSION_EXPIRED) {
        expire(r.getDetail());
      }
    } catch (Exception parse) {
      LOG.warn("{}: heartbeat reply does not decode", node.nodeId(), parse);
    }
  }

  private Message heartbeatMessage() {
    Query q = Query.newBuilder().setHeartbeat(
        Heartbeat.newBuilder().setNodeId(node.nodeId()).setIncarnation(incarnation)).build();
    return Message.valueOf(UnsafeByteOperations.unsafeWrap(q.toByteArray()));
  }

  private void beat(Message m, org.apache.ratis.protocol.RaftPeerId peer) {
    long sentAt = System.nanoTime();
    try {
      RenewableClient renewable = heartbeatClients.get(peer);
      if (renewable == null) {
        return; // a leader outside the configured voters: the beats to the voters reach it
      }
      // One unordered attempt, straight to the voter: a beat needs no retries (the next one follows)
      // nor ordering, and Ratis' ordered path logs every failure (a voter down) at ERROR.
      renewable.call(java.util.Optional.empty(), client -> client.getClientRpc().sendRequestAsyncUnordered(
              RaftClientRequest.newBuilder().setClientId(client.getId()).setServerId(peer)
                  .setGroupId(client.getGroupId()).setCallId(BEATS.incrementAndGet()).setMessage(m)
                  .setType(RaftClientRequest.staleReadRequestType(0)).build())
              .orTimeout(beatPeriodMillis(), TimeUnit.MILLISECONDS))
          .whenComplete((reply, e) -> {
            if (e != null || !reply.isSuccess()) {
              // no leader right now: the next beat tries again, the new leader grants grace
              LOG.debug("{}: beat in {} to {} not answered: {}", node.nodeId(), label, peer,
                  e != null ? e.toString() : reply.getException());
              return;
            }
            answered(reply, sentAt);
          });
    } catch (RuntimeException e) {
      LOG.debug("{}: heartbeat not sent: {}", node.nodeId(), e.toString());
    }
  }

  /** How often the keeper looks whether its session went unheard too long. */
  private long fenceCheckMillis() {
    return Math.max(20, Math.min(100, timeoutMillis / 20));
  }

  /**
   * How long after it was last heard ({@link #heardSentNanos}) this keeper treats the session as
   * lost: the timeout less two fence checks (one for the check's own period, one for the
   * scheduler's lateness).
   */
  long fenceAfterMillis() {
    return timeoutMillis - 2 * fenceCheckMillis();
  }

  /**
   * A beat sent at {@code sentAt} was recorded by a leader with {@code contact}: the session counts
   * as heard at the latest time no later leader can have begun its term before (see
   * {@link io.roster.ratis.LeaderContact}), unless it was fenced already.
   */
  private void heard(long sentAt, io.roster.proto.LeaderContact contact) {
    if (!opened || (node.selfFencing() && unheardTooLong())) {
      fenceIfUnheard(); // the deadline passed before this answer came: the decision stands
      return;
    }
    long excessMillis = Math.max(0, contact.getMajorityAgeMillis() + CONTACT_MARGIN_MILLIS
        - contact.getElectionTimeoutMinMillis());
    if (excessMillis > 0) {
      LOG.debug("{}: a leader of {} recorded a beat {} ms after it last heard a majority", node.nodeId(), label,
          contact.getMajorityAgeMillis());
    }
    long heardAt = sentAt - TimeUnit.MILLISECONDS.toNanos(excessMillis);
    heardSentNanos.accumulateAndGet(heardAt, (a, b) -> b - a > 0 ? b : a);
    uncountedAnswers.set(0);
  }

  /** Room for the way back of the answers a leader counts its majority contact from. */
  private static final long CONTACT_MARGIN_MILLIS = 100;

  /** Answers since the last counted one from a peer that recorded a beat but could not say its majority contact. */
  private final java.util.concurrent.atomic.AtomicInteger uncountedAnswers = new java.util.concurrent.atomic.AtomicInteger();

  private boolean unheardTooLong() {
    return System.nanoTime() - heardSentNanos.get() > TimeUnit.MILLISECONDS.toNanos(fenceAfterMillis());
  }

  /** Expires the session here if no leader heard it within {@link #fenceAfterMillis()}. */
  private void fenceIfUnheard() {
    if (opened && !over() && unheardTooLong()) {
      long silentMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - heardSentNanos.get());
      fenced = true;
      expire("no leader in touch with a majority heard a heartbeat sent in the last " + silentMillis
          + " ms (timeout " + timeoutMillis + " ms; " + uncountedAnswers.get() + " answers meanwhile from a leader that"
          + " could not say when a majority last heard it): the session is treated as lost before a leader can expire it");
    }
  }

  private volatile boolean fenced;

  /** Whether this keeper expired its session itself (no leader told it): a goodbye may hasten the leader. */
  public boolean fenced() {
    return fenced;
  }

  /** The leader told this node its session is gone. */
  public void expire(String why) {
    if (!expired && !closed) {
      expired = true;
      LOG.warn("{}: session in {} expired ({}); its registrations are gone and its writes are refused",
          node.nodeId(), label, why);
      node.sessionExpired(this);
    }
  }

  /** The leader's expiry duty (see {@link io.roster.ratis.SessionTracker#toExpire}), in this term. */
  private void expireSilentSessions(RegistryStateMachine sm, java.util.function.Supplier<java.util.OptionalLong> leaderTerm) {
    java.util.OptionalLong term = leaderTerm.get();
    if (closed || term.isEmpty()) {
      return;
    }
    for (Session s : sm.sessionTracker().toExpire(sm.mirror().openSessions())) {
      // Valid only if committed in this term: if this peer is deposed meanwhile, the decision is void.
      writer.submit(Commands.expireSession(s.nodeId(), s.incarnation(), term.getAsLong())).whenComplete((r, e) -> {
        if (e == null && r.getStatus() == Status.OK && !r.getDetail().equals("session was not open")) {
          LOG.info("session of {} (incarnation {}) in {} expired after {} ms of silence: {} registrations removed",
              s.nodeId(), s.incarnation(), label, s.timeoutMillis(), r.getRemoved());
        }
      });
    }
  }
}
