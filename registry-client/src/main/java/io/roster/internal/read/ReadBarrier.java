package io.roster.internal.read;

import java.util.concurrent.CompletableFuture;
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
