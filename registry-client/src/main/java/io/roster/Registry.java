package io.roster;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A named registry (a tenant): keys owned by processes, replicated through Raft.
 *
 * <p><b>Writes</b> ({@link #register}, {@link #unregister}) are Raft commands: linearizable, durable
 * on a majority of voters before they are acknowledged, sent to the leader from any node. Each
 * returns its revision, the Raft index of the write: monotonic, usable as a fencing token and with
 * {@link Consistency#atLeast(long)} for read-your-writes.
 *
 * <p><b>Local reads</b> ({@link #whereis(String)}, {@link #lookup(String)}) read this node's mirror:
 * no network, never block, may lag the leader by the replication window. <b>Consistent reads</b>
 * ({@link #whereisConsistent}, or a {@link Consistency} argument) wait as that option says.
 *
 * <p>Thread-safe.
 */
public interface Registry {
  String name();

  Keys keys();

  /**
   * Registers {@code key} to {@code process} with a value. Blocks until committed.
   *
   * @return the revision of the registration
   * @throws AlreadyRegisteredException for a unique key that is taken (carries the owner)
   * @throws RegistryUnavailableException if no leader commits it within the request timeout
   * @throws SessionExpiredException if this node's session expired
   * @throws LimitExceededException if the key or value is too large, or the process holds too many keys
   * @throws IllegalArgumentException if the key is empty or the process is not alive or not of this node
   */
  long register(String key, LocalProcess process, byte[] value);

  /** {@link #register(String, LocalProcess, byte[])} with an empty value. */
  default long register(String key, LocalProcess process) {
    return register(key, process, new byte[0]);
  }

  /**
   * The asynchronous twin of {@link #register(String, LocalProcess, byte[])}: completes with the
   * revision, or exceptionally with the same exceptions.
   */
  CompletableFuture<Long> registerAsync(String key, LocalProcess process, byte[] value);

  /**
   * Removes {@code process}'s entries under {@code key}. Fire-and-forget: this node's local reads
   * stop seeing them at once; other nodes see the removal once it applies. The future tells the
   * outcome to callers who want it: the revision, or an exception as for {@code register}.
   */
  CompletableFuture<Long> unregister(String key, LocalProcess process);

  /**
   * The owner of {@code key} on this node's mirror (the oldest entry's owner for a duplicate key),
   * or null. Local: no network, never blocks, allocates nothing on the hit path; may miss a
   * registration made on another node in the last replication window.
   */
  Pid whereis(String key);

  /**
   * The owner of {@code key} as of a moment after this call began, or null: linearizable. Takes a
   * ReadIndex barrier from the leader (shared with concurrent reads), waits for this node's mirror
   * to apply it, then reads the mirror.
   *
   * @throws RegistryUnavailableException if no leader confirms within the request timeout
   */
  Pid whereisConsistent(String key);

  /**
   * The owner of {@code key} read with the given consistency, or null.
   *
   * @throws RegistryUnavailableException if the consistency cannot be reached within the request timeout
   */
  Pid whereis(String key, Consistency consistency);

  /** Every entry of {@code key} on the local mirror, oldest first; empty if none. Local, never blocks. */
  List<RegistryEntry> lookup(String key);

  /**
   * Every entry of {@code key} read with the given consistency, oldest first.
   *
   * @throws RegistryUnavailableException if the consistency cannot be reached within the request timeout
   */
  List<RegistryEntry> lookup(String key, Consistency consistency);
}
