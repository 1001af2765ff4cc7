package io.roster.schema;

/**
 * Revisions: every applied command has its own, strictly increasing across the log of its group.
 *
 * <p>A revision is {@code index × 4,096 + ordinal}: the Raft index of the entry that carried the
 * command and the command's position inside it (an entry holds at most {@link
 * Limits#BATCH_COMMANDS_MAX} commands). Two commands that group commit put in one entry get
 * different revisions, in the order they applied, so a registration's revision is a fencing token
 * no other owner of its key ever shares. A mirror that applied index {@code i} has applied every
 * revision up to {@link #entryEnd(long) entryEnd(i)}.
 */
public final class Revisions {
  private Revisions() {}

  /** Revisions one entry spans: one per command it may carry. */
  public static final int PER_ENTRY = Limits.BATCH_COMMANDS_MAX;

  /** The revision of the command at {@code ordinal} in the entry at {@code index}. */
  public static long of(long index, int ordinal) {
    if (index < 0 || index > Long.MAX_VALUE / PER_ENTRY - 1 || ordinal < 0 || ordinal >= PER_ENTRY) {
      throw new IllegalArgumentException("no revision for index " + index + ", ordinal " + ordinal);
    }
    return index * PER_ENTRY + ordinal;
  }

  /** The Raft index of the entry that carried the command of {@code revision}. */
  public static long index(long revision) {
    return revision / PER_ENTRY;
  }

  /** The position of the command of {@code revision} in its entry. */
  public static int ordinal(long revision) {
    return (int) (revision % PER_ENTRY);
  }

  /** The highest revision of the entry at {@code index}: what a mirror that applied it has reached. */
  public static long entryEnd(long index) {
    return index <= 0 ? 0 : of(index, PER_ENTRY - 1);
  }
}
