package io.roster.internal.read;

import io.roster.internal.transport.RaftAccess;
import io.roster.internal.transport.Dumps;
import io.roster.mirror.AppliedIndexWaiters;
import io.roster.mirror.ChangeHistory;
import io.roster.mirror.Mirror;
import io.roster.proto.Barrier;
import io.roster.proto.ChangeEntry;
import io.roster.proto.Changes;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.Status;
import io.roster.schema.Change;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client node's mirror, fed by a voter's change stream: it loads the whole state once, then
 * long-polls for the entries after its applied index, in order. When a voter fails it moves to the
 * next one and resumes from the same index; when its index is older than the voter's history
 * (COMPACTED) it loads the whole state again, serving the old mirror until the new one is complete.
 *
 * <p>Voters serve the whole state and the change stream to members only: the mirror starts once this
 * node's session in the group is open, and before it asks a voter it waits for that voter to have
 * applied the session's opening (a barrier read at that index).
 *
 * <p>The stream follows a voter that is not the group's leader when one answers: this node's writes
 * wait for its mirror, and a stream held by a leader that freezes would stall them until its poll
 * timed out, well after the election that replaces the leader. A follower learns each commit from the
 * leader's next append, which Ratis sends as soon as the commit index moves.
 */
public final class StreamMirror implements MirrorSource {
  private static final Logger LOG = LoggerFactory.getLogger(StreamMirror.class);
  private static final io.roster.internal.RateLimitedLog STALLS = new io.roster.internal.RateLimitedLog(LOG, 10_000);
  /** How long a voter holds a poll for changes when it has none. */
  static final int WAIT_MILLIS = 500;
  /**
   * How long the stream waits at most for a voter's answer to a poll or a barrier: a voter that does
   * not answer by then (frozen, cut off, overloaded) is left for the next one, so that this node's
   * mirror, which its writes wait for, stalls no longer than this.
   */
  public static final long POLL_TIMEOUT_MILLIS = WAIT_MILLIS + 500;
  /** How long the stream waits at most for one part of the whole state (up to 4 MiB). */
  public static final long LOAD_TIMEOUT_MILLIS = 10_000;
  static final long BACKOFF_MILLIS = 200;
  /**
   * A voter that leaves a waited-for index unreached this long (counted from when this mirror last
   * moved, or from when a wait began if it moved since) is left for another: it may be cut off from
   * the leader, or be a deposed leader that has not yet noticed. About the longest election timeout,
   * so that a write to the next leader waits little longer for this node's mirror than the election.
   */
  static final long STALL_MILLIS = 800;
  /**
   * How long a voter that failed the stream (or a leader this node saw deposed) is passed over when
   * another one can be followed.
   */
  static final long FAILED_AVOID_MILLIS = 5_000;

  private final String nodeId;
  private final RaftClient client;
  private final RaftClient loadClient;
  private final List<RaftPeerId> voters;
  /** The group's leader as this node knows it, or empty: the stream follows another voter if it can. */
  private final java.util.function.Supplier<java.util.Optional<RaftPeerId>> leader;
  /** When each voter last failed the stream (System.nanoTime); 0 for never. The follower thread only. */
  private final long[] failedNanos;
  private final AppliedIndexWaiters waiters;
  private final Thread follower;
  private volatile Mirror mirror = new Mirror();
  /** What this mirror applied, for watchers; reset at every full load. */
  private final ChangeHistory history = new ChangeHistory(ChangeHistory.ENTRIES_MAX, ChangeHistory.BYTES_MAX,
      Runnable::run);
  private volatile boolean loaded;
  /** When the stream last had an answer (System.nanoTime); 0 before its first. */
  private volatile long answeredNanos;

  /** Whether the whole state was loaded (before, this mirror holds nothing). */
  public boolean loaded() {
    return loaded;
  }

  /**
   * Milliseconds since the stream's last answer, or -1 before its first: a voter answers at least
   * every {@value #WAIT_MILLIS} ms while nothing changes, so more means the stream is cut off.
   */
  public long silentMillis() {
    long at = answeredNanos;
    return at == 0 ? -1 : java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - at);
  }
  private volatile boolean closed;
  private volatile int voter;
  /** The Raft index of this node's session opening; -1 until it is open. */
  private long memberIndex = -1;
  /** The voter known to have applied {@link #memberIndex}; null for none. */
  private RaftPeerId reached;
  private java.util.function.BooleanSupplier sessionEnded = () -> false;
  static final long REFUSED_BACKOFF_MILLIS = 1_000;

  /**
   * Polls through {@code client} and loads the whole state through {@code loadClient} (longer tries);
   * {@code leader} tells the group's leader as this node knows it, which the stream leaves for
   * another voter when one can be followed.
   */
  public StreamMirror(String nodeId, RaftClient client, RaftClient loadClient, List<RaftPeer> voters,
      java.util.function.Supplier<java.util.Optional<RaftPeerId>> leader) {
    this.nodeId = nodeId;
    this.client = client;
    this.loadClient = loadClient;
    this.voters = voters.stream().map(RaftPeer::getId).toList();
    this.leader = leader;
    this.failedNanos = new long[voters.size()];
    this.waiters = new AppliedIndexWaiters(() -> mirror.appliedIndex(), 100_000, Runnable::run); // no locks held
    this.voter = Math.floorMod(nodeId.hashCode(), voters.size()); // spread clients over voters
    this.follower = new Thread(this::follow, "roster-" + nodeId + "-stream");
    this.follower.setDaemon(true);
  }

  /**
   * Starts following once {@code sessionIndex}, the index of this node's session opening, completes;
   * stops when a voter refuses and {@code sessionEnded} tells that the session is over.
   */
  public void start(CompletableFuture<Long> sessionIndex, java.util.function.BooleanSupplier sessionEnded) {
    this.sessionEnded = sessionEnded;
    sessionIndex.whenComplete((index, e) -> {
      if (e == null && !closed) {
        memberIndex = index;
        follower.start();
      } else if (e != null) {
        LOG.debug("{}: no session, no change stream: {}", nodeId, e.toString());
      }
    });
  }

  @Override
  public java.util.Optional<String> source() {
    return follower.isAlive() ? java.util.Optional.of(voters.get(voter).toString()) : java.util.Optional.empty();
  }

  @Override
  public ChangeHistory history() {
    return history;
  }

  @Override
  public Mirror mirror() {
    return mirror;
  }

  @Override
  public CompletableFuture<Long> awaitApplied(long index, long timeoutMillis) {
    return waiters.await(index, timeoutMillis);
  }

  private void follow() {
    boolean reload = true;
    long progressNanos = System.nanoTime();
    long progressIndex = 0;
    RaftPeerId lastLeader = null;
    while (!closed) {
      RaftPeerId peer = voters.get(voter);
      RaftPeerId known = leader.get().orElse(null);
      if (lastLeader != null && !lastLeader.equals(known) && voters.contains(lastLeader)) {
        // a deposed leader may be frozen or cut off: not the voter to move to while others answer
        failedNanos[voters.indexOf(lastLeader)] = System.nanoTime();
      }
      lastLeader = known;
      long applied = mirror.appliedIndex();
      if (applied > progressIndex) {
        progressIndex = applied;
        progressNanos = System.nanoTime();
      } else if (waiters.highestAwaited() > applied
          && System.nanoTime() - latest(progressNanos, waiters.waitingSinceNanos()) > STALL_MILLIS * 1_000_000L) {
        STALLS.info("{}: {} has not reached index {} in {} ms; following another voter", nodeId, peer,
            waiters.highestAwaited(), STALL_MILLIS);
        failedNanos[voter] = System.nanoTime();
        voter = nextVoter(voter, true);
        LOG.debug("{}: {} stalled at index {}; following {}", nodeId, peer, applied, voters.get(voter));
        progressNanos = System.nanoTime();
        continue;
      }
      if (peer.equals(known)) {
        int other = nextVoter(voter, false);
        if (other != voter) {
          LOG.debug("{}: {} leads the group; following {}", nodeId, peer, voters.get(other));
          voter = other;
          progressNanos = System.nanoTime();
          continue;
        }
      }
      try {
        if (!peer.equals(reached)) {
          // it serves this node once it has applied the session's opening
          query(Query.newBuilder().setBarrier(Barrier.getDefaultInstance()).build(), peer, memberIndex);
          reached = peer;
        }
        if (reload) {
          load(peer);
          reload = false;
        }
        QueryResult r = query(Query.newBuilder().setChanges(Changes.newBuilder()
            .setFromIndex(mirror.appliedIndex()).setWaitMillis(WAIT_MILLIS)).build(), peer);
        if (r.getStatus() == Status.COMPACTED) {
          LOG.info("{}: behind {}'s change history; loading the whole state", nodeId, peer);
          reload = true;
          continue;
        }
        Mirror m = mirror;
        for (ChangeEntry e : r.getChangeEntriesList()) {
          // with no local watcher reading, the history keeps the decoded changes, whose registrations
          // the mirror holds too, not the wire's message tree: what it keeps lives long and every
          // collection would copy it
          List<Change> changes = m.applyStreamed(e.getIndex(), e.getChangesList());
          int[] ordinals = new int[changes.size()];
          for (int i = 0; i < ordinals.length; i++) {
            ordinals[i] = e.getChanges(i).getOrdinal();
          }
          history.applied(e.getIndex(), changes, ordinals, e);
        }
        m.advanceTo(r.getAppliedIndex());
        history.append(m.appliedIndex(), null);
        waiters.advance(m.appliedIndex());
      } catch (IllegalArgumentException e) {
        LOG.warn("{}: change stream from {} out of step ({}); reloading", nodeId, peer, e.getMessage());
        reload = true;
      } catch (Exception e) {
        if (closed) {
          return;
        }
        if (RaftAccess.refused(e)) {
          if (sessionEnded.getAsBoolean()) {
            // this node was declared dead: voters serve it no more
            LOG.info("{}: the session ended; {} streams to this node no more, its mirror stays at index {}",
                nodeId, peer, mirror.appliedIndex());
            return;
          }
          LOG.debug("{}: {} refused the change stream ({}); trying again", nodeId, peer, e.getMessage());
          reached = null;
          sleep(REFUSED_BACKOFF_MILLIS);
          continue;
        }
        LOG.debug("{}: change stream from {} failed: {}", nodeId, peer, e.toString());
        failedNanos[voter] = System.nanoTime();
        voter = nextVoter(voter, true);
        sleep(BACKOFF_MILLIS);
        progressNanos = System.nanoTime(); // the next voter has its own time to reach what is awaited
      }
    }
  }

  /**
   * The voter to follow after {@code from}, in ring order: the first that is not the known leader and
   * has not failed the stream in the last {@value #FAILED_AVOID_MILLIS} ms; else, if {@code anyway}, the
   * first that has not failed (the leader included), else the next; if not {@code anyway}, {@code from}
   * when no such voter exists.
   */
  private int nextVoter(int from, boolean anyway) {
    RaftPeerId known = leader.get().orElse(null);
    long now = System.nanoTime();
    int unfailed = -1;
    for (int step = 1; step < voters.size(); step++) {
      int c = (from + step) % voters.size();
      boolean failed = failedNanos[c] != 0 && now - failedNanos[c] < FAILED_AVOID_MILLIS * 1_000_000L;
      if (!failed && !voters.get(c).equals(known)) {
        return c;
      }
      if (!failed && unfailed < 0) {
        unfailed = c;
      }
    }
    if (!anyway) {
      return from;
    }
    return unfailed >= 0 ? unfailed : (from + 1) % voters.size();
  }

  /** The later of two nanoTime readings. */
  private static long latest(long a, long b) {
    return a - b > 0 ? a : b;
  }

  private void load(RaftPeerId peer) throws Exception {
    // a lagging voter refuses (Ratis' stale read) before sending anything: reads on this node must
    // never go back in time
    long at = loaded ? mirror.appliedIndex() : 0;
    Mirror fresh = Dumps.load(loadClient, peer, at, this::answered);
    if (fresh.appliedIndex() < at) {
      throw new IllegalStateException(peer + " is at index " + fresh.appliedIndex() + ", behind this mirror's " + at);
    }
    mirror = fresh;
    history.reset(fresh.appliedIndex());
    loaded = true;
    waiters.advance(fresh.appliedIndex());
    LOG.info("{}: loaded the state at index {} from {}", nodeId, fresh.appliedIndex(), peer);
  }

  /** An answer counts as the stream being heard: a load's chunks and a COMPACTED answer too. */
  private void answered() {
    answeredNanos = System.nanoTime();
  }

  private QueryResult query(Query q, RaftPeerId peer) throws Exception {
    return query(client, q, peer, 0);
  }

  private QueryResult query(Query q, RaftPeerId peer, long minIndex) throws Exception {
    return query(client, q, peer, minIndex);
  }

  /** Asks {@code peer} once it has applied {@code minIndex}. */
  private QueryResult query(RaftClient client, Query q, RaftPeerId peer, long minIndex) throws Exception {
    return Dumps.query(client, q, peer, minIndex, this::answered);
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    closed = true;
    follower.interrupt();
    waiters.failAll(new IllegalStateException("node " + nodeId + " is closed"));
    for (RaftClient c : List.of(client, loadClient)) {
      try {
        c.close();
      } catch (Exception e) {
        LOG.debug("{}: stream client close: {}", nodeId, e.toString());
      }
    }
  }
}
