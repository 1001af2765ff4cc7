package io.roster.mirror;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Futures that complete when the applied index reaches a value: the wait behind read-your-writes
 * and behind a stale read with a minimum index. Bounded in count and in time.
 */
public final class AppliedIndexWaiters {
  private final LongSupplier applied;
  private final int waitersMax;
  private final Executor notifier;
  private final TreeMap<Long, List<CompletableFuture<Long>>> waiting = new TreeMap<>();
  private int count;
  /** When the oldest wait began (nanoTime), if any waits: since the waits last went from none to some. */
  private long waitingSinceNanos;

  /**
   * @param notifier completes the waiters' futures, so that what callers chained on them never runs
   *     on the thread that advanced the index (the apply thread, holding its locks)
   */
  public AppliedIndexWaiters(LongSupplier applied, int waitersMax, Executor notifier) {
    this.applied = applied;
    this.waitersMax = waitersMax;
    this.notifier = notifier;
  }

  /**
   * Completes with the applied index once it is at least {@code index}; fails with a
   * {@link java.util.concurrent.TimeoutException} after {@code timeoutMillis}, or at once with a
   * {@link RejectedExecutionException} when too many callers wait already.
   */
  public CompletableFuture<Long> await(long index, long timeoutMillis) {
    long now = applied.getAsLong();
    if (now >= index) {
      return CompletableFuture.completedFuture(now);
    }
    CompletableFuture<Long> f = new CompletableFuture<>();
    synchronized (this) {
      now = applied.getAsLong(); // re-check under the lock that advance() takes
      if (now >= index) {
        return CompletableFuture.completedFuture(now);
      }
      if (count >= waitersMax) {
        return CompletableFuture.failedFuture(new RejectedExecutionException(
            count + " callers already wait for the applied index; the limit is " + waitersMax));
      }
      if (count == 0) {
        waitingSinceNanos = System.nanoTime();
      }
      waiting.computeIfAbsent(index, i -> new ArrayList<>(1)).add(f);
      count++;
    }
    f.orTimeout(timeoutMillis, TimeUnit.MILLISECONDS).whenComplete((v, e) -> {
      if (e != null) {
        forget(index, f);
      }
    });
    return f;
  }

  /** Called after the applied index moved to {@code index}: completes every waiter at or below it. */
  public void advance(long index) {
    List<CompletableFuture<Long>> ready = new ArrayList<>();
    synchronized (this) {
      Map<Long, List<CompletableFuture<Long>>> head = waiting.headMap(index, true);
      for (List<CompletableFuture<Long>> l : head.values()) {
        ready.addAll(l);
      }
      count -= ready.size();
      head.clear();
    }
    if (!ready.isEmpty()) {
      notifier.execute(() -> ready.forEach(f -> f.complete(index)));
    }
  }

  private synchronized void forget(long index, CompletableFuture<Long> f) {
    List<CompletableFuture<Long>> l = waiting.get(index);
    if (l != null && l.remove(f)) {
      count--;
      if (l.isEmpty()) {
        waiting.remove(index);
      }
    }
  }

  /** Fails every waiter (the state machine is closing). */
  public void failAll(Throwable cause) {
    List<CompletableFuture<Long>> all = new ArrayList<>();
    synchronized (this) {
      waiting.values().forEach(all::addAll);
      waiting.clear();
      count = 0;
    }
    all.forEach(f -> f.completeExceptionally(cause));
  }

  /** When the waits under way began (nanoTime): since there were none; meaningless while none wait. */
  public synchronized long waitingSinceNanos() {
    return waitingSinceNanos;
  }

  /** The highest index anyone waits for, or 0. */
  public synchronized long highestAwaited() {
    return waiting.isEmpty() ? 0 : waiting.lastKey();
  }
}
