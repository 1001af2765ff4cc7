package io.roster;

/** A call ({@link RegistryNode#call}, {@link Registry#call}) got no answer; {@link #reason()} says why. */
public final class CallException extends RosterException {
  private static final long serialVersionUID = 1L;

  /** Why a call failed. */
  public enum Reason {
    /** No answer within the caller's timeout. */
    TIMEOUT,
    /** No live process with that pid: it died, or its node incarnation is gone, before the call reached it. */
    NO_PROCESS,
    /** The callee died (its handler threw, or it was closed) before it answered. */
    CALLEE_DIED,
    /** The connection to the callee's node broke, or could not be made: the node is down or unreachable. */
    NODE_UNREACHABLE,
    /** The callee's mailbox was full. */
    MAILBOX_FULL,
    /** The callee's node refused the message (it is another incarnation, or the message is malformed). */
    REFUSED
  }

  private final Reason reason;

  public CallException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
