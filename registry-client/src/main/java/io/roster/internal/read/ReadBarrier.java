package io.roster.internal.read;

import io.roster.internal.Failures;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Shares ReadIndex barriers among concurrent linearizable reads. A barrier serves only reads that
 * began before it was requested, so a read that arrives while one is in flight waits for the next,
 * which is requested when the current one ends and serves every read that arrived meanwhile: at
 * most one barrier is outstanding, however many readers there are.
 *
 * <p>Each barrier has a slot, the future its readers hold, published before the barrier is
 * requested; a barrier that completes at once (a fast failure) therefore cannot leave a stale slot.
 */
public final class ReadBarrier {
  private final Supplier<CompletableFuture<Long>> barrier;
  private CompletableFuture<Long> inFlight;
  private CompletableFuture<Long> next;

  /** {@code barrier} takes one barrier and completes with an index every earlier write is at or below. */
  public ReadBarrier(Supplier<CompletableFuture<Long>> barrier) {
    this.barrier = barrier;
  }

  /** A barrier requested after this call: completes with the index to read at. */
  public CompletableFuture<Long> join() {
    CompletableFuture<Long> slot;
    synchronized (this) {
      if (inFlight != null) {
        if (next == null) {
          next = new CompletableFuture<>();
        }
        return next;
      }
      slot = new CompletableFuture<>();
      inFlight = slot;
    }
    launch(slot);
    return slot;
  }

  /**
   * Takes barriers with {@code attempt}, trying again (after 20 ms, doubling up to 200 ms) when one
   * fails for a passing reason, such as a voter that knows no leader yet or a leader that steps down,
   * until {@code forMillis} after the first try: the reader then waits for a leader within its
   * timeout rather than fail at once. Other failures, and the last passing one, end the barrier.
   */
  public static Supplier<CompletableFuture<Long>> retrying(Supplier<CompletableFuture<Long>> attempt,
      Predicate<Throwable> passing, long forMillis, ScheduledExecutorService scheduler) {
    return () -> {
      CompletableFuture<Long> result = new CompletableFuture<>();
      tryOnce(attempt, passing, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(forMillis), 20, scheduler, result);
      return result;
    };
  }

  private static void tryOnce(Supplier<CompletableFuture<Long>> attempt, Predicate<Throwable> passing,
      long deadlineNanos, long delayMillis, ScheduledExecutorService scheduler, CompletableFuture<Long> result) {
    CompletableFuture<Long> f;
    try {
      f = attempt.get();
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    f.whenComplete((index, error) -> {
      if (error == null) {
        result.complete(index);
        return;
      }
      boolean again = passing.test(Failures.cause(error))
          && System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMillis) < deadlineNanos;
      if (!again) {
        result.completeExceptionally(error);
        return;
      }
      try {
        scheduler.schedule(() -> tryOnce(attempt, passing, deadlineNanos, Math.min(200, delayMillis * 2), scheduler,
            result), delayMillis, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException closed) {
        result.completeExceptionally(error);
      }
    });
  }

  private void launch(CompletableFuture<Long> slot) {
    CompletableFuture<Long> f;
    try {
      f = barrier.get();
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    f.whenComplete((index, error) -> {
      CompletableFuture<Long> waiting;
      synchronized (this) {
        waiting = next;
        next = null;
        inFlight = waiting; // the readers who arrived meanwhile get the next barrier
      }
      if (error != null) {
        slot.completeExceptionally(error);
      } else {
        slot.complete(index);
      }
      if (waiting != null) {
        launch(waiting);
      }
    });
  }
}
