package io.roster.internal.read;

import io.roster.mirror.ChangeHistory;
import io.roster.mirror.Mirror;
import java.util.concurrent.CompletableFuture;

/** Where a node's local mirror comes from: its own state machine (voter) or a voter's change stream (client). */
public interface MirrorSource extends AutoCloseable {
  /** The current mirror; fetch it for each read. */
  Mirror mirror();

  /** Completes once the mirror has applied {@code index}; times out after {@code timeoutMillis}. */
  CompletableFuture<Long> awaitApplied(long index, long timeoutMillis);

  /** The recent changes the mirror applied, in index order: what watchers read. */
  ChangeHistory history();

  @Override
  void close();
}
