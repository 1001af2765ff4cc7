package io.roster;

/** The base of every error Roster reports; unchecked. Subclasses say what a caller can do about it. */
public class RosterException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public RosterException(String message) {
    super(message);
  }

  public RosterException(String message, Throwable cause) {
    super(message, cause);
  }
}
