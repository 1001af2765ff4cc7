package io.roster.internal.read;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ReadBarrierTest {
  /** A barrier whose requests the test completes by hand. */
  private static ReadBarrier recording(List<CompletableFuture<Long>> requested) {
    return new ReadBarrier(() -> {
      CompletableFuture<Long> f = new CompletableFuture<>();
      requested.add(f);
      return f;
    });
  }
  @Test
  void readersArrivingDuringABarrierShareTheNextOne() {
    List<CompletableFuture<Long>> requested = new ArrayList<>();
    ReadBarrier barrier = recording(requested);
    CompletableFuture<Long> first = barrier.join();
    CompletableFuture<Long> second = barrier.join();
    CompletableFuture<Long> third = barrier.join();
    assertThat(requested).hasSize(1);
    assertThat(second).isSameAs(third);

    requested.get(0).complete(10L);
    assertThat(first).isCompletedWithValue(10L);
    assertThat(second).isNotDone(); // began before barrier 2 was requested: must not reuse barrier 1
    assertThat(requested).hasSize(2);
    requested.get(1).complete(12L);
    assertThat(second).isCompletedWithValue(12L);
    assertThat(third).isCompletedWithValue(12L);
  }

  @Test
  void aBarrierThatCompletesAtOnceLeavesNothingBehind() {
    AtomicLong calls = new AtomicLong();
    ReadBarrier barrier = new ReadBarrier(() -> calls.incrementAndGet() % 2 == 1
        ? CompletableFuture.failedFuture(new IllegalStateException("closed"))
        : CompletableFuture.completedFuture(calls.get()));
    for (int i = 0; i < 10; i++) {
      CompletableFuture<Long> f = barrier.join();
      assertThat(f).as("read %d", i).isDone();
    }
    assertThat(calls).hasValue(10);
  }

  @Test
  void aFailedBarrierFailsItsReadersAndTheNextOneStillRuns() {
    List<CompletableFuture<Long>> requested = new ArrayList<>();
    ReadBarrier barrier = recording(requested);
    CompletableFuture<Long> first = barrier.join();
    CompletableFuture<Long> second = barrier.join();
    requested.get(0).completeExceptionally(new IllegalStateException("no leader"));
    assertThat(first).isCompletedExceptionally();
    requested.get(1).complete(7L);
    assertThat(second).isCompletedWithValue(7L);
    assertThat(barrier.join()).isNotDone(); // a fresh barrier, not a stale slot
    assertThat(requested).hasSize(3);
  }

  @Test
  void aBarrierRefusedForAPassingReasonIsTakenAgainWithinItsTime() throws Exception {
    java.util.concurrent.ScheduledExecutorService scheduler = java.util.concurrent.Executors.newScheduledThreadPool(1);
    try {
      AtomicLong calls = new AtomicLong();
      // refused twice (no leader known yet), then taken
      ReadBarrier barrier = new ReadBarrier(ReadBarrier.retrying(() -> calls.incrementAndGet() <= 2
          ? CompletableFuture.failedFuture(new java.io.IOException("leader is unknown"))
          : CompletableFuture.completedFuture(42L), e -> e instanceof java.io.IOException, 5_000, scheduler));
      assertThat(barrier.join().get(5, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(42L);
      assertThat(calls).hasValue(3);

      // another failure ends the barrier at once
      AtomicLong other = new AtomicLong();
      ReadBarrier refused = new ReadBarrier(ReadBarrier.retrying(() -> {
        other.incrementAndGet();
        return CompletableFuture.failedFuture(new IllegalStateException("closed"));
      }, e -> e instanceof java.io.IOException, 5_000, scheduler));
      CompletableFuture<Long> f = refused.join();
      assertThat(f).isCompletedExceptionally();
      assertThat(other).hasValue(1);

      // a passing failure that lasts ends the barrier once its time is used, with that failure
      AtomicLong lasting = new AtomicLong();
      ReadBarrier bounded = new ReadBarrier(ReadBarrier.retrying(() -> {
        lasting.incrementAndGet();
        return CompletableFuture.failedFuture(new java.io.IOException("leader is unknown"));
      }, e -> e instanceof java.io.IOException, 300, scheduler));
      CompletableFuture<Long> g = bounded.join();
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> g.get(5, java.util.concurrent.TimeUnit.SECONDS))
          .hasCauseInstanceOf(java.io.IOException.class);
      assertThat(lasting.get()).isBetween(2L, 10L);
    } finally {
      scheduler.shutdownNow();
    }
  }
}
