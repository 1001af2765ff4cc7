package io.roster;

/**
 * The leader refused a write that this node's certificate does not allow: a write for another
 * node's process or session, or the creation of a partitioned registry by a client node (open it
 * once a voter or an admin has created it). Nothing was written. The message says which rule.
 */
public final class NotAuthorizedException extends RosterException {
  private static final long serialVersionUID = 1L;

  public NotAuthorizedException(String message) {
    super(message);
  }
}
