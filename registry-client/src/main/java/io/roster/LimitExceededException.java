package io.roster;

/** A limit (key or value size, registrations per process, queue length…) was reached; the message names it. */
public final class LimitExceededException extends RosterException {
  private static final long serialVersionUID = 1L;

  public LimitExceededException(String message) {
    super(message);
  }
}
