package io.roster.apply;

import io.roster.schema.Change;
import java.util.List;

/** Sees each applied Raft entry's changes, on the apply thread, in log order, after they are durable. */
@FunctionalInterface
public interface AppliedListener {
  /**
   * {@code changes} is empty for an entry that changed nothing (a rejected or no-op entry);
   * {@code ordinals[i]} is the position in the entry of the command that made {@code changes.get(i)}.
   */
  void applied(long index, List<Change> changes, int[] ordinals);
}
