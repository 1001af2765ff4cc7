package io.roster.ratis;

// This file is large because it is the one adapter between Ratis and the replica: Ratis' life cycle
// (initialize, pause, reinitialize, snapshots, close), the write path's two calls (startTransaction,
// applyTransaction) and the dispatch of queries all share the store, the mirror and the lock that orders
// applies against snapshots, dumps and store copies. The answers that need none of that are in Answers,
// the snapshot files in CheckpointSnapshotStorage.

import com.google.protobuf.InvalidProtocolBufferException;
import io.roster.apply.AppliedListener;
import io.roster.apply.Replica;
import io.roster.core.Authorization;
import io.roster.mirror.AppliedIndexWaiters;
import io.roster.mirror.ChangeHistory;
import io.roster.mirror.Mirror;
import io.roster.proto.BatchResult;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.Status;
import io.roster.schema.Change;
import io.roster.schema.Codec;
import io.roster.schema.Revisions;
import io.roster.schema.Session;
import io.roster.store.Checkpoints;
import io.roster.store.CorruptStoreException;
import io.roster.store.RocksStore;
import io.roster.store.StoreCopies;
import io.roster.store.StoreDigests;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.util.LifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Ratis state machine of a registry Raft group: a thin adapter around {@link Replica}.
 *
 * <p><b>Files</b> under the group's Ratis storage root: {@code sm/} holds snapshots (RocksDB
 * checkpoints, see {@link CheckpointSnapshotStorage}); {@code db/} holds the live database, outside
 * {@code sm/} because Ratis replaces the whole of {@code sm/} when it installs a snapshot.
 *
 * <p><b>Lifecycle.</b> {@link #initialize} opens the live database, or rebuilds it from the latest
 * snapshot when that is newer (or the database is missing). {@link #pause} closes the database and
 * moves the life cycle to PAUSED, as Ratis requires before it installs a snapshot; {@link
 * #reinitialize} then rebuilds the live database from the installed snapshot and resumes. Entries
 * that Ratis replays at or below the database's applied index are skipped.
 *
 * <p><b>Reads.</b> {@link #query} answers from the local mirror; Ratis calls it after a ReadIndex
 * barrier for linearizable reads. {@link #queryStale} waits, bounded, for a minimum applied index.
 */
public class RegistryStateMachine extends BaseStateMachine {
  private static final Logger LOG = LoggerFactory.getLogger(RegistryStateMachine.class);
  static final String DB_DIR = "db";
  /** Bound on waiting for an index in {@link #queryStale}. */
  static final long STALE_READ_WAIT_MILLIS = 10_000;

  private final CheckpointSnapshotStorage storage = new CheckpointSnapshotStorage();
  /** Completes read futures off the apply thread, so their continuations never run under its locks. */
  private final ExecutorService notifier = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "roster-sm-notify");
    t.setDaemon(true);
    return t;
  });
  private final AppliedIndexWaiters waiters = new AppliedIndexWaiters(this::mirrorAppliedIndex, 100_000, notifier);
  private final AtomicLong snapshotsInstalled = new AtomicLong();
  /** For metrics: leaders this peer has seen come (or go), snapshots taken and the time they took. */
  private final AtomicLong leaderChanges = new AtomicLong();
  private final AtomicLong snapshotsTaken = new AtomicLong();
  private final AtomicLong snapshotNanos = new AtomicLong();
  private final SessionTracker sessions = new SessionTracker(System::nanoTime);
  /** Client nodes' first loads, in chunks. */
  private final Dumps dumps = new Dumps(System::nanoTime);
  private final AppliedListener listener;
  private final ChangeHistory history =
      new ChangeHistory(ChangeHistory.ENTRIES_MAX, ChangeHistory.BYTES_MAX, notifier);
  private volatile Replica replica;
  /** The highest entry Ratis handed over while the store was closed for a snapshot install. */
  private long skippedWhilePaused;
  /** The mirror local reads use: kept while paused, replaced only by a complete new one. */
  private volatile Mirror mirror;
  private volatile Path dbDir;

  /** The identities of the leader's clients, to authorize each command; null: no checks (plaintext). */
  private final ClientIdentities identities;

  public RegistryStateMachine() {
    this((index, changes, ordinals) -> { }, null);
  }

  /**
   * A state machine whose leader appends only the commands their sender may send
   * ({@link Authorization}), each sender known by the identity {@code identities} bound to its
   * client id; null for none (a node without TLS).
   */
  public RegistryStateMachine(ClientIdentities identities) {
    this((index, changes, ordinals) -> { }, identities);
  }

  /**
   * As {@link #RegistryStateMachine(ClientIdentities)}, and a group that starts with no state of
   * its own adopts its restored snapshot from {@code seeds} ({@link io.roster.backup.SnapshotArchive#restore}), if
   * there is one for it; null: no seeds.
   */
  public RegistryStateMachine(ClientIdentities identities, Path seeds) {
    this((index, changes, ordinals) -> { }, identities, seeds);
  }

  /** Where restored snapshots wait for their group's first start; null: none. */
  private final Path seeds;

  /** {@code listener} sees every applied entry's changes, on the apply thread, in log order. */
  public RegistryStateMachine(AppliedListener listener) {
    this(listener, null);
  }

  private RegistryStateMachine(AppliedListener listener, ClientIdentities identities) {
    this(listener, identities, null);
  }

  private RegistryStateMachine(AppliedListener listener, ClientIdentities identities, Path seeds) {
    this.identities = identities;
    this.seeds = seeds;
    this.listener = (index, changes, ordinals) -> {
      history.applied(index, changes, ordinals);
      listener.applied(index, changes, ordinals);
    };
  }

  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage) throws IOException {
    super.initialize(server, groupId, raftStorage);
    storage.init(raftStorage);
    dbDir = raftStorage.getStorageDir().getRoot().toPath().resolve(DB_DIR);
    if (seeds != null) {
      storage.adopt(seeds.resolve(groupId.getUuid().toString()), dbDir);
    }
    // a new replica has been no voter until a configuration names it; a restarted one knows what it
    // recorded (else, a directory from before that was recorded, it was a voter)
    membershipFile = raftStorage.getStorageDir().getRoot().toPath().resolve(MEMBERSHIP_FILE);
    boolean fresh = storage.getLatestSnapshot() == null && !Files.exists(dbDir.resolve("CURRENT"));
    votingMember = fresh ? Boolean.FALSE : null;
    readMembership();
    getLifeCycle().startAndTransition(() -> {
      openReplica();
      SnapshotInfo snapshot = storage.getLatestSnapshot();
      if (snapshot != null) {
        setLastAppliedTermIndex(snapshot.getTermIndex());
      }
    }, IOException.class);
  }

  /**
   * Opens the live database, first rebuilding it from the latest snapshot if that is newer.
   *
   * @return true if the database was rebuilt from the snapshot
   */
  private boolean openReplica() throws IOException {
    SnapshotInfo snapshot = storage.getLatestSnapshot();
    Replica r = null;
    if (Files.exists(dbDir.resolve("CURRENT"))) {
      // a store that does not open or fails its checksums stops this peer: never served, never
      // replaced silently (the snapshot's SST files are the store's own, hard linked)
      r = Replica.open(dbDir, listener);
    }
    if (snapshot != null && (r == null || r.appliedIndex() < snapshot.getIndex())) {
      if (r != null) {
        r.close();
      }
      LOG.info("{}: rebuilding the store from snapshot {}", getId(), snapshot.getTermIndex());
      RocksStore.Verified verified = Checkpoints.verify(storage.latestDir());
      if (verified.appliedIndex() != snapshot.getIndex()) {
        throw new CorruptStoreException(storage.latestDir(), "it holds the state at index " + verified.appliedIndex()
            + ", not at " + snapshot.getIndex() + " as its name says", null);
      }
      Checkpoints.restore(storage.latestDir(), dbDir);
      publish(Replica.open(dbDir, listener));
      return true;
    }
    publish(r != null ? r : Replica.open(dbDir, listener));
    return false;
  }

  /** The damage found in this peer's store or snapshot; once set, it serves nothing more. */
  private volatile CorruptStoreException corrupt;

  /** Stops serving: reads, writes and applies fail from now on; the node must be replaced. */
  private void failStop(CorruptStoreException e) {
    if (corrupt == null) {
      corrupt = e;
      LOG.error("{}: {}", getId(), e.getMessage());
    }
  }

  /** Why this replica serves no reads: its state differs from the majority's digest; null while it does. */
  private volatile String diverged;
  private volatile java.util.function.LongConsumer digestListener = index -> { };

  /** {@code listener} learns the index of every digest-check entry applied here, on the apply thread. */
  public void onDigestCheck(java.util.function.LongConsumer listener) {
    this.digestListener = listener;
  }

  /** The digest of this replica's state at digest-check entry {@code index}, or null if it has none. */
  public CompletableFuture<String> digestAt(long index) {
    Replica r = replica;
    return r == null ? null : r.store().digestAt(index);
  }

  /**
   * This replica's state is not the majority's at a digest check: from now on it serves no reads
   * (local or remote), and says why. It keeps applying the log; a restart does not clear it (the
   * store is wrong): replace the member.
   */
  public void diverge(String why) {
    if (diverged == null) {
      diverged = why;
      LOG.error("{}: {}; this replica serves no more reads: replace the member", getId(), why);
    }
  }

  /** Why this replica serves nothing, or null while it serves. */
  public String stopped() {
    CorruptStoreException c = corrupt;
    return c != null ? c.getMessage() : diverged;
  }

  private void publish(Replica r) {
    r.onDigestCheck(index -> digestListener.accept(index));
    replica = r;
    mirror = r.mirror();
    history.reset(r.mirror().appliedIndex());
    waiters.advance(r.mirror().appliedIndex());
  }

  @Override
  public StateMachineStorage getStateMachineStorage() {
    return storage;
  }

  /**
   * The local mirror. While a snapshot is being installed it is the mirror from before the
   * install (consistent, and stale by at most what the install brings); the rebuilt mirror replaces
   * it atomically. Fetch it for each read rather than keeping it.
   *
   * @throws IllegalStateException before {@link #initialize} has opened the store
   */
  public Mirror mirror() {
    Mirror m = mirror;
    if (corrupt != null) {
      throw new IllegalStateException(corrupt.getMessage(), corrupt);
    }
    if (diverged != null) {
      throw new IllegalStateException("this replica diverged: " + diverged);
    }
    if (m == null) {
      throw new IllegalStateException("the state machine is " + getLifeCycleState());
    }
    return m;
  }

  /**
   * Whether {@code nodeId} holds an open session in this group, as this replica has applied; true
   * while the replica is not open (a query then fails on its own).
   */
  public boolean member(String nodeId) {
    Mirror m = mirror;
    if (m == null) {
      return true;
    }
    Session s = m.session(nodeId);
    return s != null && !s.expired();
  }

  private long mirrorAppliedIndex() {
    Mirror m = mirror;
    return m == null ? 0 : m.appliedIndex();
  }

  /** Waits, bounded, until the local mirror has applied {@code index}. */
  public CompletableFuture<Long> awaitApplied(long index, long timeoutMillis) {
    return waiters.await(index, timeoutMillis);
  }

  /** The recent changes this peer applied, for change streams and watchers. */
  public ChangeHistory changeHistory() {
    return history;
  }

  /** How many snapshots this peer has installed from a leader since it started. */
  public long snapshotsInstalled() {
    return snapshotsInstalled.get();
  }

  /** How many times this peer has seen its group's leader change (or be lost) since it started. */
  public long leaderChanges() {
    return leaderChanges.get();
  }

  /** How many snapshots this peer has taken since it started. */
  public long snapshotsTaken() {
    return snapshotsTaken.get();
  }

  /** The time the snapshots this peer has taken since it started took, in total (nanoseconds). */
  public long snapshotNanos() {
    return snapshotNanos.get();
  }

  /** The leader's heartbeat record (meaningful only while this peer leads). */
  public SessionTracker sessionTracker() {
    return sessions;
  }

  /**
   * While this peer is its group's ready leader: how recently it heard from a majority, with its
   * minimum election timeout (see {@link LeaderContact}); empty otherwise.
   */
  public java.util.Optional<io.roster.proto.LeaderContact> leaderContact() {
    try {
      RaftServer server = getServer().join();
      java.util.OptionalLong age = LeaderContact.ageMillis(server.getDivision(getGroupId()));
      if (age.isEmpty()) {
        return java.util.Optional.empty();
      }
      return java.util.Optional.of(io.roster.proto.LeaderContact.newBuilder().setMajorityAgeMillis(age.getAsLong())
          .setElectionTimeoutMinMillis(LeaderContact.electionTimeoutMinMillis(server)).build());
    } catch (java.io.IOException | RuntimeException e) {
      return java.util.Optional.empty(); // closing
    }
  }

  /**
   * Whether the last configuration this peer applied (or installed) lists it as a voter; null when
   * unknown: a peer restarted on its own store learns only the configurations after its snapshot.
   */
  private volatile Boolean votingMember;
  /** The index of the configuration that last made this peer a voter here; -1 while none was applied. */
  private volatile long joinedAtIndex = -1;

  /**
   * Tracks when this peer last became a voter of the group: Ratis calls this for every
   * configuration entry it applies and for the configuration of an installed snapshot. A voter
   * replaced under its old id, or added, replays entries in which it is absent and then the one that
   * (re)admits it, so the index tells it which partitioned registries are older than its membership.
   */
  @Override
  public void notifyConfigurationChanged(long term, long index,
      org.apache.ratis.proto.RaftProtos.RaftConfigurationProto conf) {
    org.apache.ratis.thirdparty.com.google.protobuf.ByteString self = getId().toByteString();
    boolean member = conf.getPeersList().stream().anyMatch(p -> p.getId().equals(self));
    Boolean before = votingMember;
    long joinedBefore = joinedAtIndex;
    if (member && Boolean.FALSE.equals(votingMember)) {
      joinedAtIndex = index;
    }
    votingMember = member;
    if (!Boolean.valueOf(member).equals(before) || joinedAtIndex != joinedBefore) {
      writeMembership();
    }
  }

  /** Where this replica records {@link #becameVoterAfter}'s facts: they outlive its log across restarts. */
  public static final String MEMBERSHIP_FILE = "roster-membership.properties";
  private volatile Path membershipFile;

  private void readMembership() {
    Path f = membershipFile;
    if (f == null || !Files.exists(f)) {
      return;
    }
    java.util.Properties p = new java.util.Properties();
    try (java.io.Reader r = Files.newBufferedReader(f, java.nio.charset.StandardCharsets.UTF_8)) {
      p.load(r);
      String member = p.getProperty("voter");
      long joined = Long.parseLong(p.getProperty("joinedAtIndex", "-1"));
      if (!"true".equals(member) && !"false".equals(member)) {
        throw new IllegalArgumentException("voter is '" + member + "'");
      }
      votingMember = Boolean.valueOf(member);
      joinedAtIndex = joined;
    } catch (IOException | RuntimeException e) {
      // advisory: without it, a restarted replica counts as a voter of old (as before it was kept)
      LOG.warn("{}: {} is unreadable ({}); taking this replica for a voter of old", getId(), f, e.toString());
    }
  }

  private void writeMembership() {
    Path f = membershipFile;
    if (f == null) {
      return;
    }
    try {
      Path tmp = f.resolveSibling(MEMBERSHIP_FILE + ".tmp");
      Files.writeString(tmp, "# Roster: whether this replica is a voter of its group, and since which Raft index\n"
          + "voter=" + votingMember + "\njoinedAtIndex=" + joinedAtIndex + "\n", java.nio.charset.StandardCharsets.UTF_8);
      Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      LOG.warn("{}: cannot record its membership in {}: {}", getId(), f, e.toString());
    }
  }

  /**
   * Whether this peer is a voter of the group only since after {@code index}, or is none now, as far
   * as the configurations it applied (or installed) since it started with an empty store tell (kept
   * in {@value #MEMBERSHIP_FILE} across restarts): a voter added since, or replaced under its old id,
   * replays a log in which it is absent, or present and then removed, up to the entry that admits it.
   * False for a voter since the group's first entry, and for a replica from before this was kept.
   */
  public boolean becameVoterAfter(long index) {
    return Boolean.FALSE.equals(votingMember) || joinedAtIndex > index;
  }

  @Override
  public void notifyLeaderReady() {
    sessions.becameLeader();
    LOG.info("{}: leader ready; every session has a fresh grace period", getId());
  }

  @Override
  public void notifyLeaderChanged(RaftGroupMemberId member, RaftPeerId newLeaderId) {
    leaderChanges.incrementAndGet();
    if (!member.getPeerId().equals(newLeaderId)) {
      sessions.lostLeadership();
    }
  }

  // ---------------------------------------------------------------- writes

  /** Rejects, before it reaches the log, a request whose bytes are not a valid command batch. */
  @Override
  public TransactionContext startTransaction(RaftClientRequest request) throws IOException {
    TransactionContext context = super.startTransaction(request);
    if (corrupt != null) {
      context.setException(new IllegalStateException(corrupt.getMessage()));
      return context;
    }
    Codec.Decoded decoded = Codec.decodeBatch(Answers.toProtobuf(request.getMessage().getContent()));
    if (!decoded.ok()) {
      context.setException(new IllegalArgumentException(decoded.errorStatus() + ": " + decoded.errorDetail()));
      return context;
    }
    if (identities != null) {
      String refusal = refusal(request, decoded.batch());
      if (refusal != null) {
        context.setException(new IllegalArgumentException(Authorization.REFUSED + refusal));
        return context;
      }
    }
    // Ratis hands this leader's context back to applyTransaction: the entry is not decoded again
    context.setStateMachineContext(decoded.batch());
    return context;
  }

  /** Why the sender of {@code request} may not send one of its commands, or null (see {@link Authorization}). */
  private String refusal(RaftClientRequest request, io.roster.proto.CommandBatch batch) throws IOException {
    Authorization.Identity who = identities.of(request.getClientId());
    if (who == null) {
      return "the request's client is bound to no certificate";
    }
    long term = getServer().join().getDivision(getGroupId()).getInfo().getCurrentTerm();
    String leader = getId().toString();
    Mirror state = mirror;
    if (state == null) {
      return "the leader's state is not loaded yet";
    }
    if (batch.hasWriter()) {
      String why = Authorization.refusal(batch.getWriter(), who);
      if (why != null) {
        return why;
      }
    }
    for (io.roster.proto.Command c : batch.getCommandsList()) {
      String why = Authorization.refusal(c, who, leader, term, state);
      if (why != null) {
        return why;
      }
    }
    return null;
  }

  /**
   * Applies an entry on Ratis' apply thread. Synchronized with {@link #pause}, {@link #close} and
   * {@link #takeSnapshot}, which close or read the database from other threads. A failure to write
   * the store is thrown, which makes Ratis stop this peer (a restart rebuilds it from disk).
   */
  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
    LogEntryProto entry = trx.getLogEntry();
    BatchResult result;
    if (corrupt != null) {
      return CompletableFuture.failedFuture(new IllegalStateException(corrupt.getMessage(), corrupt));
    }
    synchronized (this) {
      Replica r = replica;
      if (r == null) {
        // Paused for a snapshot install while Ratis still replays committed entries: the snapshot
        // being installed covers them (reinitialize checks it), so they are skipped here.
        skippedWhilePaused = Math.max(skippedWhilePaused, entry.getIndex());
        LOG.debug("{}: entry {} skipped while {}", getId(), entry.getIndex(), getLifeCycleState());
        return CompletableFuture.completedFuture(Answers.message(BatchResult.newBuilder()
            .addResults(io.roster.proto.Result.newBuilder().setStatus(Status.REPLAYED)
                .setRevision(Revisions.of(entry.getIndex(), 0))).build()));
      }
      // on the leader, the batch startTransaction decoded from the same bytes; elsewhere null
      io.roster.proto.CommandBatch decoded = trx.getStateMachineContext() instanceof io.roster.proto.CommandBatch b
          ? b : null;
      result = r.applyEntry(Answers.toProtobuf(entry.getStateMachineLogEntry().getLogData()), entry.getTerm(),
          entry.getIndex(), decoded);
      advanceApplied(entry.getTerm(), entry.getIndex());
    }
    return CompletableFuture.completedFuture(Answers.message(result));
  }

  @Override
  public void notifyTermIndexUpdated(long term, long index) {
    synchronized (this) {
      advanceApplied(term, index); // configuration and metadata entries
    }
  }

  /** Moves the applied index forward (never back: replayed entries may be below it). */
  private void advanceApplied(long term, long index) {
    TermIndex current = getLastAppliedTermIndex();
    if (current == null || index > current.getIndex()) {
      updateLastAppliedTermIndex(term, index);
    }
    Replica r = replica;
    if (r != null && index > r.mirror().appliedIndex()) {
      r.mirror().appliedIndex(index); // every transaction up to index is in the mirror
      history.applied(index, java.util.List.of());
    }
    waiters.advance(mirrorAppliedIndex());
  }

  // ---------------------------------------------------------------- snapshots and lifecycle

  @Override
  public long takeSnapshot() throws IOException {
    long started = System.nanoTime();
    long index = snapshot();
    if (index >= 0) {
      snapshotNanos.addAndGet(System.nanoTime() - started);
      snapshotsTaken.incrementAndGet();
    }
    return index;
  }

  private long snapshot() throws IOException {
    synchronized (this) {
      Replica r = replica;
      TermIndex last = getLastAppliedTermIndex();
      if (r == null || last == null || last.getIndex() <= 0) {
        return -1;
      }
      r.markApplied(last.getTerm(), last.getIndex());
      Path tmp = storage.newTemporary();
      r.store().checkpoint(tmp);
      RocksStore.Verified verified;
      try {
        verified = RocksStore.verify(tmp); // what a follower installs must be sound
      } catch (CorruptStoreException e) {
        Checkpoints.deleteTree(tmp);
        failStop(e);
        throw e;
      }
      Checkpoints.writeDigest(tmp, verified);
      storage.publish(tmp, last);
      storage.cleanupOldSnapshots(null);
      return last.getIndex();
    }
  }

  @Override
  public void pause() {
    synchronized (this) {
      LifeCycle lc = getLifeCycle();
      if (lc.getCurrentState() != LifeCycle.State.RUNNING) {
        return;
      }
      lc.transition(LifeCycle.State.PAUSING);
      closeReplica();
      lc.transition(LifeCycle.State.PAUSED);
      LOG.info("{}: paused", getId());
    }
  }

  @Override
  public void reinitialize() throws IOException {
    synchronized (this) {
      storage.reload();
      SnapshotInfo snapshot = storage.getLatestSnapshot();
      boolean[] restored = new boolean[1];
      try {
        getLifeCycle().startAndTransition(() -> restored[0] = openReplica(), IOException.class);
      } catch (CorruptStoreException e) {
        failStop(e); // the snapshot it received is damaged: serve nothing, not the state from before the install
        throw e;
      }
      if (skippedWhilePaused > replica.appliedIndex()) {
        throw new IOException("entries up to " + skippedWhilePaused + " were skipped while paused, but the store "
            + "resumed at " + replica.appliedIndex() + "; refusing to continue with a gap");
      }
      skippedWhilePaused = 0;
      if (restored[0]) {
        setLastAppliedTermIndex(snapshot.getTermIndex());
        snapshotsInstalled.incrementAndGet();
        LOG.info("{}: installed snapshot {}", getId(), snapshot.getTermIndex());
      }
    }
  }

  @Override
  public void close() throws IOException {
    synchronized (this) {
      closeReplica();
      waiters.failAll(new IOException("the state machine is closed"));
      notifier.shutdown();
      copier.shutdown();
      super.close();
    }
  }

  private void closeReplica() {
    Replica r = replica;
    replica = null;
    if (r != null) {
      try {
        r.store().flush(); // a clean stop needs no replay
      } catch (IOException e) {
        LOG.warn("{}: flush on close failed; the log will be replayed at the next start", getId(), e);
      }
      r.close();
    }
  }

  // ---------------------------------------------------------------- reads

  @Override
  public CompletableFuture<Message> query(Message request) {
    Query q;
    try {
      q = Query.parseFrom(Answers.toProtobuf(request.getContent()));
    } catch (InvalidProtocolBufferException e) {
      return Answers.reply(QueryResult.newBuilder().setStatus(Status.UNKNOWN_COMMAND)
          .setDetail("query does not decode: " + e.getMessage()).build());
    }
    Mirror m = mirror;
    if (corrupt != null) {
      return CompletableFuture.failedFuture(new IllegalStateException(corrupt.getMessage()));
    }
    if (m == null) {
      return CompletableFuture.failedFuture(new IllegalStateException("the state machine is " + getLifeCycleState()));
    }
    if (q.getKindCase() == Query.KindCase.DIGEST_AT) { // answered even when diverged: that is how it is found
      return Answers.reply(digestAnswer(q.getDigestAt().getIndex()));
    }
    if (diverged != null) {
      return CompletableFuture.failedFuture(new IllegalStateException("this replica diverged: " + diverged));
    }
    if (q.getKindCase() == Query.KindCase.HEARTBEAT) {
      return Answers.reply(Answers.heartbeat(sessions, m, q.getHeartbeat(), this::leaderContact));
    }
    if (q.getKindCase() == Query.KindCase.CHANGES) {
      return Answers.changes(history, q.getChanges());
    }
    if (q.getKindCase() == Query.KindCase.STORE_COPY) {
      try {
        return CompletableFuture.supplyAsync(() -> Answers.message(storeCopy(q.getStoreCopy())), copier);
      } catch (java.util.concurrent.RejectedExecutionException closing) {
        return CompletableFuture.failedFuture(new IllegalStateException("the state machine is closed"));
      }
    }
    if (q.getKindCase() == Query.KindCase.DUMP) {
      return Answers.reply(q.getDump().getDumpId() == 0 ? dump() : dumps.chunk(q.getDump().getDumpId(), q.getDump().getChunk()));
    }
    return Answers.reply(Answers.answer(m, q));
  }

  private QueryResult digestAnswer(long index) {
    CompletableFuture<String> d = digestAt(index);
    QueryResult.Builder b = QueryResult.newBuilder().setAppliedIndex(mirrorAppliedIndex());
    if (d == null) {
      return b.setStatus(Status.INVALID_ARGUMENT).setDetail("no digest at index " + index + " here (a replica keeps "
          + "those of its last " + StoreDigests.KEPT + " digest checks since it opened its store)").build();
    }
    if (!d.isDone()) {
      return b.setStatus(Status.BUSY).setDetail("the digest at index " + index + " is being computed").build();
    }
    try {
      return b.setStatus(Status.OK).setDigest(d.join()).build();
    } catch (RuntimeException e) {
      return b.setStatus(Status.INTERNAL_ERROR).setDetail("the digest at index " + index + " failed: " + e.getMessage())
          .build();
    }
  }

  /** Answers once the local mirror has applied {@code minIndex}, waiting at most 10 s. */
  @Override
  public CompletableFuture<Message> queryStale(Message request, long minIndex) {
    return waiters.await(minIndex, STALE_READ_WAIT_MILLIS).thenCompose(applied -> query(request));
  }

  /** A new dump of the whole state at one applied index (taken under the apply lock): its chunk 0. */
  private QueryResult dump() {
    if (!dumps.room()) { // before copying the state under the apply lock
      return QueryResult.newBuilder().setStatus(Status.BUSY)
          .setDetail("this voter is serving " + Dumps.DUMPS_MAX + " dumps; try another voter or later").build();
    }
    long index;
    List<Change> changes;
    synchronized (this) {
      Mirror m = mirror;
      if (m == null) {
        return QueryResult.newBuilder().setStatus(Status.NOT_LEADER).setDetail("not started").build();
      }
      index = m.appliedIndex();
      changes = m.asChanges();
    }
    return dumps.start(index, changes);
  }

  /** A part of a copy of this replica's store, for a backup (see {@link StoreCopies}). */
  private QueryResult storeCopy(io.roster.proto.StoreCopy c) {
    try {
      Replica r = replica;
      if (c.getPart() == 0 && (r == null || !r.store().copyHeld(c.getCopyId()))) {
        QueryResult refused;
        synchronized (this) { // the view and its index, between two applies
          r = replica;
          Mirror m = mirror;
          if (r == null || m == null) {
            return QueryResult.newBuilder().setStatus(Status.BUSY).setDetail("the store is " + getLifeCycleState()
                + "; try again").build();
          }
          refused = r.store().copyStart(c.getCopyId(), m.appliedIndex());
        }
        if (refused != null) {
          return refused;
        }
        // part 0 outside the lock: reading it does not hold back the applies
      }
      if (r == null) {
        return QueryResult.newBuilder().setStatus(Status.COMPACTED).setDetail("store copy " + c.getCopyId()
            + " is gone (the store closed for a snapshot install); start again").build();
      }
      return r.store().copyPart(c.getCopyId(), c.getPart());
    } catch (CorruptStoreException e) {
      failStop(e);
      return QueryResult.newBuilder().setStatus(Status.INTERNAL_ERROR).setDetail(e.getMessage()).build();
    }
  }

  /**
   * Reads store copies off the thread that answers queries: Ratis may answer a read on the thread
   * that applies entries (once the read index is applied), and a part is up to 4 MiB of reading.
   */
  private final java.util.concurrent.ThreadPoolExecutor copier = new java.util.concurrent.ThreadPoolExecutor(0,
      StoreCopies.COPIES_MAX, 30, java.util.concurrent.TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>(),
      r -> {
        Thread t = new Thread(r, "roster-store-copy");
        t.setDaemon(true);
        return t;
      });
}
