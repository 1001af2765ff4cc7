package io.roster;

/** A unique key is taken; {@link #owner()} holds it (Elixir's {@code {:error, {:already_registered, pid}}}). */
public final class AlreadyRegisteredException extends RosterException {
  private static final long serialVersionUID = 1L;
  private final transient Pid owner;

  /** That {@code key} is taken by {@code owner}. */
  public AlreadyRegisteredException(String key, Pid owner) {
    super("'" + key + "' is already registered to " + owner);
    this.owner = owner;
  }

  /** The pid that owns the key. */
  public Pid owner() {
    return owner;
  }
}
