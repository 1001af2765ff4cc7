package io.roster.internal;

import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * A WARN (or INFO) line that repeats at most once per period: a flood of bad requests (a misconfigured or
 * hostile peer) costs the log one line per period, which says how many were left out before it.
 */
public final class RateLimitedLog {
  private final Logger log;
  private final long periodNanos;
  private final AtomicLong nextNanos = new AtomicLong(Long.MIN_VALUE);
  private final AtomicLong suppressed = new AtomicLong();

  public RateLimitedLog(Logger log, long periodMillis) {
    this.log = log;
    this.periodNanos = periodMillis * 1_000_000L;
  }

  public void warn(String format, Object... args) {
    long left = admit();
    if (left > 0) {
      log.warn(format + " (and {} more like it in the last period)", append(args, left));
    } else if (left == 0) {
      log.warn(format, args);
    }
  }

  /** As {@link #warn}, at INFO: an expected condition that is worth a line now and then. */
  public void info(String format, Object... args) {
    long left = admit();
    if (left > 0) {
      log.info(format + " (and {} more like it in the last period)", append(args, left));
    } else if (left == 0) {
      log.info(format, args);
    }
  }

  /** How many lines were left out before this one, or -1 if this one is left out too. */
  private long admit() {
    long now = System.nanoTime();
    long next = nextNanos.get();
    if ((next != Long.MIN_VALUE && now - next < 0) || !nextNanos.compareAndSet(next, now + periodNanos)) {
      suppressed.incrementAndGet();
      return -1;
    }
    return suppressed.getAndSet(0);
  }

  private static Object[] append(Object[] args, Object last) {
    Object[] out = java.util.Arrays.copyOf(args, args.length + 1);
    out[args.length] = last;
    return out;
  }
}
