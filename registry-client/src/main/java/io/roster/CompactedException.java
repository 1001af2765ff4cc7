package io.roster;

/**
 * A watch asked for events after a revision older than this node's bounded change history
 * keeps. Read the current state (for example with {@link Registry#select}) at a revision, then
 * watch from there.
 */
public final class CompactedException extends RosterException {
  private static final long serialVersionUID = 1L;
  private final long requested;
  private final long oldest;

  public CompactedException(long requested, long oldest) {
    super("events after revision " + requested + " are no longer kept on this node; the history starts after "
        + oldest);
    this.requested = requested;
    this.oldest = oldest;
  }

  /** The revision the watch asked to resume after. */
  public long requested() {
    return requested;
  }

  /** The oldest revision a watch can resume after now. */
  public long oldest() {
    return oldest;
  }
}
