package io.roster;

/**
 * This node's session has expired (the leader did not hear from it in time, or it was replaced by a
 * newer incarnation of the node): its registrations are gone and its writes are refused. Close the
 * node and start it again to rejoin with a new incarnation.
 */
public final class SessionExpiredException extends RosterException {
  private static final long serialVersionUID = 1L;

  public SessionExpiredException(String message) {
    super(message);
  }
}
