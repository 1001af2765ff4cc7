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

  /** The node whose Raft log this mirror follows (this voter, or the voter a change stream follows), if any yet. */
  java.util.Optional<String> source();

  /** The recent changes the mirror applied, in index order: what watchers read. */
  ChangeHistory history();

  @Override
  void close();
}
