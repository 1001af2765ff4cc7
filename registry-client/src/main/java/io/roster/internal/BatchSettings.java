package io.roster.internal;

import io.roster.schema.Limits;
import java.util.concurrent.TimeUnit;

/**
 * How a group commit batches writes: commands and bytes per Raft entry at most, how long a batch
 * waits for company (linger), and how many writes may queue.
 */
public record BatchSettings(int commandsMax, int bytesMax, long lingerNanos, int queueMax) {
  static final BatchSettings DEFAULT = new BatchSettings(256, 256 * 1024, TimeUnit.MICROSECONDS.toNanos(200), 65_536);

  /** Checks each setting against its bounds; an IllegalArgumentException names the one out of them. */
  public BatchSettings {
    if (commandsMax < 1 || commandsMax > Limits.BATCH_COMMANDS_MAX) {
      throw new IllegalArgumentException("batch commands must be 1.." + Limits.BATCH_COMMANDS_MAX + ", was "
          + commandsMax);
    }
    if (bytesMax < 1024 || bytesMax > Limits.BATCH_BYTES_MAX / 2) {
      throw new IllegalArgumentException("batch bytes must be 1024.." + Limits.BATCH_BYTES_MAX / 2 + ", was "
          + bytesMax);
    }
    if (lingerNanos < 0 || lingerNanos > TimeUnit.MILLISECONDS.toNanos(100)) {
      throw new IllegalArgumentException("batch linger must be 0..100 ms, was " + lingerNanos + " ns");
    }
    if (queueMax < 1 || queueMax > 1_000_000) {
      throw new IllegalArgumentException("write queue must be 1..1000000, was " + queueMax);
    }
  }
}
