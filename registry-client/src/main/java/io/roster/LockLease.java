package io.roster;

import java.util.concurrent.CompletionStage;

/**
 * A held lock as {@link Registry#lockWithLease} hands it to its function: the fencing token, and
 * word of the lock's loss.
 *
 * <p>The lock is lost when its holder process dies: the process is closed, or this node's session
 * ends. A node ends its session itself when no leader has heard its heartbeats for its session
 * timeout (a partition, a long pause), before any leader can expire the session and hand the lock
 * to another taker; so a holder cut off from the cluster learns it lost the lock no later than
 * another can take it (unless the node was built with self-fencing off, when it learns only once a
 * leader tells it). Check {@link #held()} before each step that relies on the lock, and give the
 * {@link #fencingToken()} to every resource the lock guards: a holder paused between its check and
 * its step is stopped only by a resource that refuses a token older than one it has seen.
 *
 * <p>Thread-safe.
 */
public interface LockLease {
  /** The fencing token of this acquisition (see {@link LockedFunction#apply}). */
  long fencingToken();

  /** False once this node knows the lock is lost; it never turns true again. */
  boolean held();

  /** Completes when this node learns the lock is lost (at the latest when the function returns). */
  CompletionStage<Void> lost();
}
