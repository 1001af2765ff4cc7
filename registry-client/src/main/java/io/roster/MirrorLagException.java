package io.roster;

/**
 * A write was committed, but this node's mirror did not apply it within the request timeout, so
 * local reads on this node may not show it yet. The write took effect: {@link #revision()} is its
 * revision. This node's mirror is cut off from the voters or far behind them; reads with
 * {@link Consistency#atLeast(long) atLeast(revision())} wait for it again.
 */
public final class MirrorLagException extends RosterException {
  private static final long serialVersionUID = 1L;
  private final long revision;

  public MirrorLagException(String message, long revision, Throwable cause) {
    super(message, cause);
    this.revision = revision;
  }

  /** The revision of the committed write. */
  public long revision() {
    return revision;
  }
}
