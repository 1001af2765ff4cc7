package io.roster.ratis;

import io.roster.schema.Session;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The leader's in-memory record of when it last heard from each node session. Not replicated and
 * never read by {@code apply}: the leader decides that a session expired and proposes
 * {@code ExpireSession}; every peer then applies that command alike.
 *
 * <p>A peer that becomes leader knows nothing of earlier heartbeats, so it gives every session a
 * full timeout of grace from the moment it became leader before expiring any.
 *
 * <p>Thread-safe.
 */
public final class SessionTracker {
  private record Heard(long incarnation, long atNanos) {}

  private final LongSupplier nanoTime;
  private final ConcurrentHashMap<String, Heard> heard = new ConcurrentHashMap<>();
  /** When this leader last proposed the expiry of each session (node#incarnation). */
  private final ConcurrentHashMap<String, Long> proposedAtNanos = new ConcurrentHashMap<>();
  /** How long a proposed expiry is left to commit before it is proposed again. */
  public static final long REPROPOSE_MILLIS = 2_000;
  private volatile long leaderSinceNanos;
  private volatile boolean leader;

  public SessionTracker(LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
    this.leaderSinceNanos = nanoTime.getAsLong();
  }

  /** This peer became leader: forget what an earlier term heard and start every grace period now. */
  public void becameLeader() {
    heard.clear();
    proposedAtNanos.clear();
    leaderSinceNanos = nanoTime.getAsLong();
    leader = true;
  }

  public void lostLeadership() {
    leader = false;
    heard.clear();
    proposedAtNanos.clear();
  }

  public boolean leader() {
    return leader;
  }

  public void heartbeat(String nodeId, long incarnation) {
    heard.put(nodeId, new Heard(incarnation, nanoTime.getAsLong()));
  }

  /**
   * The open sessions silent longer than their timeout. A session this leader has not heard from
   * under its current incarnation counts from the moment the leader first sees it here (a session
   * opened long after the term began gets its full timeout too), and never from before the term.
   */
  public List<Session> expired(List<Session> open) {
    long now = nanoTime.getAsLong();
    long since = leaderSinceNanos;
    List<Session> expired = new ArrayList<>();
    for (Session s : open) {
      Heard h = heard.get(s.nodeId());
      if (h == null || h.incarnation() != s.incarnation()) {
        heard.put(s.nodeId(), new Heard(s.incarnation(), now)); // first sight: the grace starts now
        continue;
      }
      if (now - Math.max(h.atNanos(), since) > s.timeoutMillis() * 1_000_000L) {
        expired.add(s);
      }
    }
    return expired;
  }

  /**
   * The leader's expiry duty, one round: the sessions of {@code open} to propose the expiry of now
   * (see {@link #expired}), leaving out those proposed less than {@link #REPROPOSE_MILLIS} ago (a
   * proposal is on its way to commit), and none while this peer does not lead.
   */
  public List<Session> toExpire(List<Session> open) {
    if (!leader) {
      return List.of();
    }
    long now = nanoTime.getAsLong();
    List<Session> due = new ArrayList<>();
    for (Session s : expired(open)) {
      String id = s.nodeId() + "#" + s.incarnation();
      Long at = proposedAtNanos.get(id);
      if (at == null || now - at >= REPROPOSE_MILLIS * 1_000_000L) {
        proposedAtNanos.put(id, now);
        due.add(s);
      }
    }
    java.util.Set<String> openIds = new java.util.HashSet<>();
    open.forEach(s -> openIds.add(s.nodeId() + "#" + s.incarnation()));
    proposedAtNanos.keySet().retainAll(openIds); // expired, or closed: forgotten
    return due;
  }
}
