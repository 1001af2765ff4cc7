package io.roster;

/** {@link Registry#lock} did not get the lock within the time it was given; the lock was not taken. */
public final class LockTimeoutException extends RosterException {
  private static final long serialVersionUID = 1L;
  private final transient Pid holder;

  public LockTimeoutException(String message, Pid holder) {
    super(message);
    this.holder = holder;
  }

  /** The holder last seen, or null. */
  public Pid holder() {
    return holder;
  }
}
