package io.roster;

/** The caller does not own the key or lock it tried to change; {@link #owner()} does (or null). */
public final class NotOwnerException extends RosterException {
  private static final long serialVersionUID = 1L;
  private final transient Pid owner;

  public NotOwnerException(String message, Pid owner) {
    super(message);
    this.owner = owner;
  }

  public Pid owner() {
    return owner;
  }
}
