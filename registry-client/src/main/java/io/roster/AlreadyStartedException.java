package io.roster;

/**
 * A process could not start under a via name because the name is taken: Elixir's
 * {@code {:error, {:already_started, pid}}}. The new process was ended before anything could reach it.
 */
public final class AlreadyStartedException extends RosterException {
  private static final long serialVersionUID = 1L;
  private final transient Pid owner;

  /** That a process already runs under {@code key}: {@code owner}. */
  public AlreadyStartedException(String key, Pid owner) {
    super("'" + key + "' is already started as " + owner);
    this.owner = owner;
  }

  /** The process that holds the name. */
  public Pid owner() {
    return owner;
  }
}
