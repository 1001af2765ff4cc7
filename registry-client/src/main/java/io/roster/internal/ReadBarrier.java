package io.roster.internal;

import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Shares ReadIndex barriers among concurrent linearizable reads. A barrier serves only reads that
 * began before it was requested, so a read that arrives while one is in flight waits for the next,
 * which starts when the current one ends and serves every read that arrived meanwhile: at most two
 * barriers are outstanding however many readers there are.
 */
final class ReadBarrier {
  private final Supplier<CompletableFuture<Long>> barrier;
  private CompletableFuture<Long> inFlight;
  private CompletableFuture<Long> next;

  /** {@code barrier} takes one barrier and completes with an index every earlier write is at or below. */
  ReadBarrier(Supplier<CompletableFuture<Long>> barrier) {
    this.barrier = barrier;
  }

  /** A barrier requested after this call: completes with the index to read at. */
  synchronized CompletableFuture<Long> join() {
    if (inFlight == null) {
      inFlight = start();
      return inFlight;
    }
    if (next == null) {
      next = new CompletableFuture<>();
    }
    return next;
  }

  private CompletableFuture<Long> start() {
    CompletableFuture<Long> f;
    try {
      f = barrier.get();
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    f.whenComplete((index, error) -> finished());
    return f;
  }

  private void finished() {
    CompletableFuture<Long> waiting;
    CompletableFuture<Long> started;
    synchronized (this) {
      waiting = next;
      next = null;
      inFlight = waiting == null ? null : start();
      started = inFlight;
    }
    if (waiting != null) {
      started.whenComplete((index, error) -> {
        if (error != null) {
          waiting.completeExceptionally(error);
        } else {
          waiting.complete(index);
        }
      });
    }
  }
}
