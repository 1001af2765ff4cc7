package io.roster;

/**
 * A process of this node: a pid, a bounded mailbox and a lifetime. Its death (by {@link #close()},
 * its handler throwing, or its node stopping) removes every registration it holds, cluster-wide, in
 * one command; the node retries that command until it is applied or the node's session ends. From
 * its death on, local reads on this node no longer show its names.
 *
 * <p>Thread-safe.
 */
public interface LocalProcess extends AutoCloseable {
  Pid pid();

  /** Whether the process is alive. A dead process never comes back. */
  boolean isAlive();

  /**
   * The revision of the registration that {@link RegistryNode#spawn(Via, MessageHandler)} made as
   * the process started (its name's fencing token); 0 for a process spawned without a name.
   */
  long viaRevision();

  /**
   * Puts a message in this process's mailbox (bounded: 1,024 messages); the handler, or
   * {@link #receive}, gets it in the order messages were put. A message to a dead process is dropped.
   *
   * @return false if the process is dead (the message was dropped)
   * @throws LimitExceededException if the mailbox is full
   */
  boolean tell(byte[] message);

  /**
   * Takes the next message from the mailbox of a process spawned without a handler, waiting up to
   * {@code timeout}: Erlang's {@code receive ... after}.
   *
   * @return the message, or null if none came in time (or the process died)
   * @throws IllegalStateException if the process has a handler (the handler receives its messages)
   */
  Mail receive(java.time.Duration timeout) throws InterruptedException;

  /**
   * Completes when the process dies, however it dies: {@link #close()}, its handler throwing, its
   * node stopping, or its node's session expiring (told by the leader, or found by the node itself
   * when no leader has heard it for a session timeout). Erlang's monitor, for a local process.
   */
  java.util.concurrent.CompletionStage<Void> exited();

  /** Why the process died, if its handler threw; null while alive or after a normal close. */
  Throwable failure();

  /**
   * Ends the process (idempotent) and removes its registrations and locks. Returns once this node's
   * mirror has applied the removal, so every later read on this node, consistent reads included,
   * sees the names gone; waits at most the node's request timeout for that (without a quorum the
   * removal goes on in the background, retried, while local reads here already hide the names).
   */
  @Override
  void close();
}
