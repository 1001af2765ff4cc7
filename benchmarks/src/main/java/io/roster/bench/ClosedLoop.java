package io.roster.bench;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * A closed loop: {@code n} workers, each issuing one operation, waiting for it, then the next; a
 * warm-up, then a measured period whose latencies go to HdrHistogram. Shared by every system the
 * benchmarks measure, so they are measured alike.
 */
public final class ClosedLoop {
  /** One worker's operation; called repeatedly with a sequence number. */
  @FunctionalInterface
  public interface Operation {
    void run(long seq) throws Exception;
  }

  /** A measured point. */
  public record Result(long operations, long errors, double seconds, Histogram latencyMicros) {
    public double opsPerSecond() {
      return operations / seconds;
    }

    public double percentileMillis(double p) {
      return latencyMicros.getValueAtPercentile(p) / 1000.0;
    }
  }

  private ClosedLoop() {}

  /** Runs {@code n} workers; {@code workers.apply(i)} makes worker i's operation (on the calling thread). */
  public static Result run(int n, Duration warmup, Duration duration, IntFunction<Operation> workers)
      throws InterruptedException {
    Operation[] ops = new Operation[n];
    for (int i = 0; i < n; i++) {
      ops[i] = workers.apply(i);
    }
    Recorder recorder = new Recorder(3);
    AtomicLong count = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    long warmupEnd = System.nanoTime() + warmup.toNanos();
    long end = warmupEnd + duration.toNanos();
    CountDownLatch done = new CountDownLatch(n);
    for (int w = 0; w < n; w++) {
      Operation op = ops[w];
      Thread t = new Thread(() -> {
        try {
          long seq = 0;
          while (System.nanoTime() < end) {
            long start = System.nanoTime();
            try {
              op.run(seq++);
            } catch (Exception e) {
              errors.incrementAndGet();
              continue;
            }
            if (start >= warmupEnd) {
              recorder.recordValue(Math.max(1, (System.nanoTime() - start) / 1_000));
              count.incrementAndGet();
            }
          }
        } finally {
          done.countDown();
        }
      }, "closed-loop-" + w);
      t.setDaemon(true);
      t.start();
    }
    done.await();
    double seconds = Math.max(1e-9, (Math.min(System.nanoTime(), end) - warmupEnd) / 1e9);
    return new Result(count.get(), errors.get(), seconds, recorder.getIntervalHistogram());
  }
}
