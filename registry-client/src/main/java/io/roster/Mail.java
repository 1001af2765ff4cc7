package io.roster;

/**
 * A message in a process's mailbox: sent ({@link RegistryNode#send}, {@link Registry#send},
 * {@link LocalProcess#tell}) or a call waiting for its answer ({@link RegistryNode#call},
 * {@link Registry#call}), from this node or another.
 *
 * <p>A call is answered once, with {@link #reply}, by the handler or later by any thread (a deferred
 * reply, as {@code GenServer.reply/2}). A call not answered before the caller's timeout is a timeout
 * for the caller; a call whose process dies unanswered fails the caller at once.
 */
public interface Mail {
  /** The message's bytes (the receiver's own copy). */
  byte[] body();

  /** Whether the sender waits for a {@link #reply}. */
  boolean isCall();

  /**
   * Answers the call.
   *
   * @return false if the call was already settled (answered, or failed because the process died)
   * @throws IllegalStateException if this is not a call
   */
  boolean reply(byte[] answer);
}
