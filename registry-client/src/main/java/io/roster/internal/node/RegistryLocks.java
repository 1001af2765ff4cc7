package io.roster.internal.node;

import io.roster.Consistency;
import io.roster.LocalProcess;
import io.roster.LockTimeoutException;
import io.roster.LeasedFunction;
import io.roster.LockLease;
import io.roster.Pid;
import io.roster.RosterException;
import io.roster.internal.write.Writer;
import io.roster.proto.Result;
import io.roster.proto.Status;
import io.roster.schema.Commands;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The locks of one registry: a lock is taken by a process, with a fencing token, in the partition
 * of its key; a taker waits for the holder's release or death, and the lock is released when the
 * function returns or throws, or when the holder dies.
 */
final class RegistryLocks {
  private final Node node;
  private final String name;

  RegistryLocks(Node node, String name) {
    this.node = node;
    this.name = name;
  }

  /** Runs {@code fn} holding lock {@code lockKey} of partition {@code group}; see {@link io.roster.Registry#lock}. */
  <T> T lock(Group group, String lockKey, LocalProcess holder, Duration timeout, LeasedFunction<T> fn) {
    Objects.requireNonNull(fn, "fn");
    if (timeout != null && timeout.isNegative()) {
      throw new IllegalArgumentException("timeout must not be negative, was " + timeout);
    }
    long start = System.nanoTime();
    long waitNanos = timeout == null ? Long.MAX_VALUE : saturatedNanos(timeout);
    LocalProcess process = holder != null ? holder : node.spawn();
    try {
      Pid pid = node.ownProcess(process);
      long token = acquire(group, lockKey, pid, start, waitNanos);
      T result;
      try {
        node.ownProcess(process); // a holder that died while acquiring lost the lock with its death
        Lease lease = new Lease(token, process);
        try {
          result = fn.apply(lease);
        } finally {
          lease.end();
        }
      } catch (Throwable failure) {
        try {
          release(group, lockKey, pid);
        } catch (RuntimeException releaseFailure) {
          failure.addSuppressed(releaseFailure);
        }
        if (failure instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        if (failure instanceof Error e) {
          throw e;
        }
        if (failure instanceof RuntimeException e) {
          throw e;
        }
        throw new RosterException("the function run under lock '" + lockKey + "' failed: " + failure, failure);
      }
      try {
        release(group, lockKey, pid);
      } catch (RuntimeException releaseFailure) {
        if (holder != null) { // the lock stays with a live process: the caller must know
          throw new RosterException("the function under lock '" + lockKey + "' ran, but the release failed; "
              + "the lock is held until " + pid + " dies: " + releaseFailure.getMessage(), releaseFailure);
        } // else the call's own process, ending below, releases the lock as it dies
      }
      return result;
    } finally {
      if (holder == null) {
        process.close();
      }
    }
  }

  /** A held lock: lost when its holder dies (its node's session ending kills it), or the function ends. */
  private static final class Lease implements LockLease {
    private final long token;
    private final CompletableFuture<Void> lost = new CompletableFuture<>();
    private final LocalProcess holder;

    Lease(long token, LocalProcess holder) {
      this.token = token;
      this.holder = holder;
      holder.exited().whenComplete((v, e) -> lost.complete(null));
      if (!holder.isAlive()) {
        lost.complete(null);
      }
    }

    void end() {
      lost.complete(null);
    }

    @Override
    public long fencingToken() {
      return token;
    }

    @Override
    public boolean held() {
      return holder.isAlive() && !lost.isDone();
    }

    @Override
    public java.util.concurrent.CompletionStage<Void> lost() {
      return lost.minimalCompletionStage();
    }

    @Override
    public String toString() {
      return "lock lease (token " + token + (held() ? ")" : ", lost)");
    }
  }

  private static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  /**
   * Takes the lock, waiting for its holder to release it; returns the fencing token. Wakes at each
   * change this node applies to look at the lock, and sends the acquire again at least every second,
   * so a release this node's mirror misses (a lagging voter stream) still ends the wait.
   */
  private long acquire(Group group, String lockKey, Pid pid, long start, long waitNanos) {
    while (true) {
      CompletableFuture<Void> changed = group.history().nextChange(); // taken before trying: no release is missed
      Result r;
      try {
        r = Node.join(group.writeResult(Commands.acquireLock(name, lockKey, pid)));
      } catch (RuntimeException unknown) {
        bestEffortRelease(group, lockKey, pid); // the acquire may have applied after all
        throw unknown;
      }
      if (r.getStatus() == Status.OK) {
        return r.getToken();
      }
      if (r.getStatus() == Status.REPLAYED) {
        bestEffortRelease(group, lockKey, pid);
      }
      if (r.getStatus() != Status.LOCK_HELD) {
        Writer.revisionOrThrow(r, lockKey);
        throw new RosterException("lock '" + lockKey + "': " + r.getStatus() + " " + r.getDetail());
      }
      Pid owner = io.roster.schema.Codec.fromProto(r.getOwner());
      if (owner.equals(pid)) {
        throw new IllegalStateException(pid + " already holds lock '" + lockKey + "' (locks are not re-entrant)");
      }
      Node.join(group.reach(Consistency.atLeast(r.getRevision()))); // this mirror sees the holder
      long retryAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
      while (heldBy(group, lockKey, owner) && System.nanoTime() - retryAt < 0) {
        long left = waitNanos - (System.nanoTime() - start);
        if (left <= 0) {
          throw new LockTimeoutException("lock '" + lockKey + "' is still held by " + owner, owner);
        }
        try {
          changed.get(Math.min(left, Math.max(1, retryAt - System.nanoTime())), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
          // send the acquire again
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new RosterException("interrupted while waiting for lock '" + lockKey + "'", e);
        } catch (ExecutionException e) {
          throw new RosterException("waiting for lock '" + lockKey + "' failed: " + e.getCause(), e.getCause());
        }
        changed = group.history().nextChange();
      }
      if (System.nanoTime() - start - waitNanos >= 0) {
        throw new LockTimeoutException("lock '" + lockKey + "' was not acquired in time", owner);
      }
    }
  }

  private boolean heldBy(Group group, String lockKey, Pid owner) {
    io.roster.schema.LockHold held = group.mirror().lock(name, lockKey);
    return held != null && held.pid().equals(owner);
  }

  private void release(Group group, String lockKey, Pid pid) {
    Result r = Node.join(group.writeResult(Commands.releaseLock(name, lockKey, pid)));
    if (r.getStatus() != Status.OK && r.getStatus() != Status.NOT_OWNER) {
      Writer.revisionOrThrow(r, lockKey); // NOT_OWNER: the session expired and took the lock with it
    }
  }

  /** After an acquire of unknown outcome: a release by pid is harmless if it was never taken. */
  private void bestEffortRelease(Group group, String lockKey, Pid pid) {
    group.writeResult(Commands.releaseLock(name, lockKey, pid));
  }
}
