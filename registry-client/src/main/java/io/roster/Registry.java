package io.roster;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * A named registry (a tenant): keys owned by processes, each entry with a value, replicated through
 * Raft: Elixir's {@code Registry}, cluster-wide.
 *
 * <p><b>Writes</b> ({@link #register}, {@link #unregister}, {@link #unregisterMatch},
 * {@link #updateValue}, {@link #putMeta}, {@link #deleteMeta}) are Raft commands: linearizable,
 * durable on a majority of voters before they are acknowledged, sent to the leader from any node.
 * A write returns only once this node's mirror has applied it, so every later read on this node,
 * local or consistent, sees it or something newer (read-your-writes and monotonic reads per node);
 * if this node's mirror cannot apply it within the request timeout the write fails with
 * {@link MirrorLagException} (it was committed). Each write has its own revision: the Raft index
 * of its entry times 4,096 plus its position in the entry, strictly increasing per command, a
 * fencing token that no other owner of the key ever shares, and usable with
 * {@link Consistency#atLeast(long)} on other nodes. In a registry of several partitions
 * ({@link RegistryNode#registry(String, Keys, int, ValueCodec)}) revisions are monotonic per
 * partition (entries and locks live in their key's or pid's partition; metadata in the cluster's
 * group), and "oldest first" below means oldest first within each partition, partition by partition.
 *
 * <p><b>Local reads</b> ({@link #whereis(String)}, {@link #lookup(String)}, {@link #match},
 * {@link #count()}, {@link #countMatch}, {@link #select}, {@link #countSelect}, {@link #keys(Pid)},
 * {@link #values}, {@link #dispatch}, {@link #meta}) read this node's mirror: no network, never
 * block, may lag the leader by the replication window. Reads that span keys are weakly consistent,
 * like {@code ConcurrentHashMap} iteration. <b>Consistent reads</b>: {@link #at(Consistency)} waits
 * until this node's mirror satisfies the consistency and returns this registry, so that the reads
 * that follow see at least that state ({@code registry.at(Consistency.LINEARIZABLE).select(...)});
 * {@link #whereisConsistent} and the {@code Consistency} overloads do the same for one read.
 *
 * <p>A registration made by this node and then removed ({@link #unregister}, or its process died)
 * disappears from this node's local reads at once, before the removal is committed (an overlay of
 * this node's removals in flight); other nodes see the removal once it applies. Consistent reads
 * (any {@link Consistency} but {@code LOCAL}) do not consult that overlay: they show only states
 * that existed in the log, so a removal still in flight may still show there until its future
 * completes (or, for a process, until {@link LocalProcess#close()} returns).
 *
 * <p>Thread-safe.
 *
 * @param <V> the value type, through the registry's {@link ValueCodec}
 */
public interface Registry<V> {
  String name();

  /** Whether keys are unique or duplicate; fixed when the registry was created. */
  Keys keys();

  /** The number of Raft groups the registry spans, fixed at its creation (1 unless created with more). */
  int partitions();

  ValueCodec<V> codec();

  // ------------------------------------------------------------------ writes

  /**
   * Registers {@code key} to {@code process} with a value. Blocks until committed and applied on
   * this node's mirror. A null value is no value (Elixir's {@code nil}): it reads back as null,
   * whatever the codec.
   *
   * @return the revision of the registration
   * @throws AlreadyRegisteredException for a unique key that is taken (carries the owner)
   * @throws RegistryUnavailableException if no leader commits it within the request timeout
   * @throws SessionExpiredException if this node's session expired
   * @throws LimitExceededException if the key or value is too large, or the process holds too many keys
   * @throws IllegalArgumentException if the key is empty or the process is not alive or not of this node
   */
  long register(String key, LocalProcess process, V value);

  /** {@link #register(String, LocalProcess, Object)} with no value. */
  default long register(String key, LocalProcess process) {
    return register(key, process, null);
  }

  /** The asynchronous twin of {@link #register(String, LocalProcess, Object)}. */
  CompletableFuture<Long> registerAsync(String key, LocalProcess process, V value);

  /**
   * Removes {@code process}'s entries under {@code key}. Fire-and-forget: this node's local reads
   * stop seeing them at once; other nodes see the removal once it applies. The future tells the
   * outcome to callers who want it: the revision, or an exception as for {@code register}; it
   * completes once this node's mirror applied the removal, after which every read here, consistent
   * reads included, sees the entries gone.
   */
  CompletableFuture<Long> unregister(String key, LocalProcess process);

  /**
   * Removes {@code process}'s entries under {@code key} whose value matches {@code pattern}
   * (Elixir's {@code unregister_match}). Reads the process's entries after a linearizable barrier,
   * then removes exactly the matching ones (one command per 4,096 entries). Blocks until committed.
   *
   * @return how many entries were removed
   * @throws RegistryUnavailableException as for {@link #register}
   * @throws SessionExpiredException as for {@link #register}
   * @throws IllegalArgumentException if the key is empty or the process is not alive or not of this node
   */
  int unregisterMatch(String key, LocalProcess process, Predicate<? super V> pattern);

  /**
   * Replaces the value of {@code process}'s unique {@code key} with {@code update(old)}, atomically:
   * a compare-and-set on the registration, retried if the value changed in between (so
   * {@code update} may run more than once and must have no side effects). Only the owner may
   * update its value. A registration with no value passes null to {@code update}; returning null
   * leaves it with no value. Returns once this node's mirror applied the update.
   *
   * @return the new and old values, or empty if {@code process} does not hold {@code key}
   * @throws IllegalArgumentException if the registry has duplicate keys (as Elixir raises)
   * @throws RegistryUnavailableException as for {@link #register}
   * @throws SessionExpiredException as for {@link #register}
   * @throws LimitExceededException as for {@link #register}
   * @throws RosterException if 16 compare-and-set rounds in a row lose to other writers of the value
   */
  Optional<ValueUpdate<V>> updateValue(String key, LocalProcess process, UnaryOperator<V> update);

  /**
   * Stores registry metadata under {@code key}, replacing any value. Blocks until committed and
   * applied on this node's mirror. A null value is stored as no bytes (it reads back as the codec's
   * decoding of no bytes).
   *
   * @return the revision of the write
   * @throws RegistryUnavailableException as for {@link #register}
   * @throws SessionExpiredException as for {@link #register}
   * @throws LimitExceededException if the key or value is too large, or the registry has 10,000 metadata keys
   */
  long putMeta(String key, V value);

  /**
   * Deletes registry metadata under {@code key}, if any. Blocks until committed; returns its revision.
   *
   * @throws RegistryUnavailableException as for {@link #register}
   * @throws SessionExpiredException as for {@link #register}
   */
  long deleteMeta(String key);

  // ------------------------------------------------------------------ reads

  /**
   * Waits until this node's mirror satisfies {@code consistency} and returns this registry: the
   * local reads that follow see at least that state. On a partitioned registry,
   * {@link Consistency#LINEARIZABLE} takes a barrier in every partition; a revision
   * ({@link Consistency#atLeast}) belongs to one partition's log, so only the reads of one key that
   * lives in one partition take it ({@code whereis(key, c)} and {@code lookup(key, c)} of a unique
   * or {@link Keys#DUPLICATE_BY_KEY} registry), and {@code at} refuses it.
   *
   * @throws RegistryUnavailableException if the consistency cannot be reached within the request timeout
   * @throws IllegalArgumentException for a revision on a partitioned registry
   */
  Registry<V> at(Consistency consistency);

  /**
   * The owner of {@code key} on this node's mirror (the oldest entry's owner for a duplicate key;
   * for a partitioned {@link Keys#DUPLICATE} registry, whose key spans partitions, the oldest of the
   * first partition holding one, found with a small allocation),
   * or null. Local: no network, never blocks, allocates nothing on the hit path.
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

  /** The owner of {@code key} read with the given consistency, or null; as {@link #at(Consistency)}. */
  Pid whereis(String key, Consistency consistency);

  /** Every entry of {@code key} on the local mirror, oldest first; empty if none. Local. */
  List<RegistryEntry<V>> lookup(String key);

  /** Every entry of {@code key} read with the given consistency, oldest first; as {@link #at(Consistency)}. */
  List<RegistryEntry<V>> lookup(String key, Consistency consistency);

  /** The entries of {@code key} whose value matches {@code pattern}, oldest first. Local. */
  List<RegistryEntry<V>> match(String key, Predicate<? super V> pattern);

  /** The number of entries (registrations) in the registry. Local. */
  long count();

  /** The number of entries of {@code key} whose value matches {@code pattern}. Local. */
  long countMatch(String key, Predicate<? super V> pattern);

  /**
   * Every entry for which {@code filter} holds, shaped by {@code body} (Elixir's match spec:
   * pattern and guards become the filter, the body the projection), in no particular order. Local;
   * O(entries).
   */
  <R> List<R> select(Predicate<? super RegistryEntry<V>> filter, Function<? super RegistryEntry<V>, R> body);

  /** The number of entries for which {@code filter} holds. Local; O(entries). */
  long countSelect(Predicate<? super RegistryEntry<V>> filter);

  /** The keys {@code pid} holds in this registry (a key once per entry), in no particular order. Local. */
  List<String> keys(Pid pid);

  /** The values of {@code pid}'s entries under {@code key}. Local. */
  List<V> values(String key, Pid pid);

  /**
   * Invokes {@code callback} in the calling thread with the entries of {@code key}, if there are
   * any: once, or once per partition holding some (see {@link #dispatch(String, Consumer, boolean)}).
   * The registered processes take no part unless the callback involves them (for example by
   * sending them a message with {@link RegistryNode#send}). Local.
   *
   * @return true if the callback was invoked
   */
  default boolean dispatch(String key, Consumer<List<RegistryEntry<V>>> callback) {
    return dispatch(key, callback, false);
  }

  /**
   * As Elixir's {@code dispatch/4}: invokes {@code callback} with the entries of {@code key}, once
   * for each partition that holds some (once in all for a unique registry, a
   * {@link Keys#DUPLICATE_BY_KEY} one, or one partition). With {@code parallel}, the invocations of
   * different partitions run concurrently on the node's threads and this call returns when all
   * have ended (the first partition's in the calling thread); otherwise they run one after the
   * other in the calling thread. Local.
   *
   * @return true if the callback was invoked
   * @throws RosterException wrapping the first exception a parallel invocation threw
   */
  boolean dispatch(String key, Consumer<List<RegistryEntry<V>>> callback, boolean parallel);

  /** The registry metadata under {@code key}, if any. Local. */
  Optional<V> meta(String key);

  // ------------------------------------------------------------------ locks and names

  /**
   * Runs {@code fn} in the calling thread while holding the cluster-wide lock {@code lockKey}
   * (Elixir's {@code lock/3}): only one holder at a time, across every node. Lock keys have their own
   * namespace, apart from registration keys. The lock is held by a process this call starts and
   * ends: it is released when {@code fn} returns or throws, and automatically if this node dies
   * (its session expires). Waits as long as it takes for the lock. The fencing token {@code fn}
   * gets grows with every acquisition of the lock (in a partitioned registry a lock lives in its
   * key's partition, whose revisions it counts): the acquisition's revision times 4,096 plus
   * its position in its Raft entry.
   *
   * @return what {@code fn} returns; an exception it throws is rethrown (a checked one wrapped in
   *     {@link RosterException})
   */
  default <T> T lock(String lockKey, LockedFunction<T> fn) {
    return lock(lockKey, null, null, fn);
  }

  /**
   * {@link #lock(String, LockedFunction)} held by {@code holder} (a process of this node, or null
   * for one of the call's own), waiting at most {@code timeout} for the lock (null: as long as it
   * takes). The lock is also released when the holder dies. Locks are not re-entrant.
   *
   * @throws LockTimeoutException if the lock is not acquired within the timeout
   * @throws IllegalStateException if {@code holder} already holds the lock
   */
  <T> T lock(String lockKey, LocalProcess holder, java.time.Duration timeout, LockedFunction<T> fn);

  /**
   * {@link #lock(String, LocalProcess, java.time.Duration, LockedFunction)}, with a function that is
   * told when the lock is lost before it returns ({@link LockLease#held()}, {@link LockLease#lost()}):
   * its holder died, or this node's session ended (a leader expired it, or the node found itself
   * unheard by any leader for its session timeout, as when it is cut off or was paused). The lease
   * is lost at the latest when {@code fn} returns; the lock is released then as for {@code lock}.
   *
   * @throws LockTimeoutException if the lock is not acquired within the timeout
   * @throws IllegalStateException if {@code holder} already holds the lock
   * @throws SessionExpiredException if this node's session is over
   */
  <T> T lockWithLease(String lockKey, LocalProcess holder, java.time.Duration timeout, LeasedFunction<T> fn);

  // ------------------------------------------------------------------ messages to named processes

  /**
   * Sends {@code message} to the process registered under {@code key} (DGen's {@code send/2}): the
   * name is resolved on this node's mirror, as {@link #whereis}, and the message goes to that
   * process's mailbox, on this node or another, as {@link RegistryNode#send}. A name re-registered
   * after its owner died resolves to the new owner once this node's mirror has the new registration.
   *
   * @return the pid the message was sent to
   * @throws NotRegisteredException if the key is not registered here
   * @throws IllegalArgumentException if the registry does not have unique keys
   * @throws LimitExceededException as for {@link RegistryNode#send}
   */
  Pid send(String key, byte[] message);

  /** {@link #send(String, byte[])} of a message encoded with {@code codec}. */
  default <M> Pid send(String key, M message, ValueCodec<M> codec) {
    return send(key, codec.encode(message));
  }

  /**
   * Calls the process registered under {@code key} (the {@code GenServer.call} analog with a via
   * name) and waits up to {@code timeout} for its reply; the name is resolved as for {@link #send}.
   *
   * @throws NotRegisteredException if the key is not registered here
   * @throws CallException on timeout, or at once when the callee dies, is dead, or its node is unreachable
   */
  byte[] call(String key, byte[] request, java.time.Duration timeout);

  /** {@link #call(String, byte[], java.time.Duration)} with a request and a reply through codecs. */
  default <Q, R> R call(String key, Q request, ValueCodec<Q> requestCodec, ValueCodec<R> replyCodec,
      java.time.Duration timeout) {
    return replyCodec.decode(call(key, requestCodec.encode(request), timeout));
  }

  /** A name for {@link RegistryNode#spawn(Via, MessageHandler)}: {@code key} in this (unique) registry, with no value. */
  default Via<V> via(String key) {
    return via(key, null);
  }

  /** A name for {@link RegistryNode#spawn(Via, MessageHandler)} with a value registered alongside. */
  default Via<V> via(String key, V value) {
    return Via.of(this, key, value);
  }

  // ------------------------------------------------------------------ listeners

  /**
   * Delivers this registry's events ({@link RegistryEvent}: registrations and removals, with key,
   * pid, value and revision) with a revision above {@code afterRevision}, in revision order, then
   * every later one as this node applies it: every node delivers the same events in the same order.
   * The events come from this node's bounded change history (the last 100,000 changing entries,
   * at most 64 MiB): resuming after a revision older than it ends the subscription at once with a
   * {@link CompactedException}, as does falling that far behind.
   *
   * <p>A partitioned registry has a revision order per partition: its watch delivers each
   * partition's events in their order, one event at a time, and events of different partitions in
   * the order this node applied them. It starts from now only ({@code afterRevision} -1); resume
   * with {@link #watchPartition}, and its {@link Subscription#revision()} throws.
   *
   * @param afterRevision a revision a previous subscription or write returned, or -1 for events from now on
   * @throws LimitExceededException if this node already runs 1024 subscriptions
   * @throws IllegalArgumentException if the registry is partitioned and {@code afterRevision} is not -1
   */
  Subscription watch(long afterRevision, RegistryListener<V> listener);

  /**
   * {@link #watch(long, RegistryListener)} of one partition of a partitioned registry: resuming a
   * partitioned registry's events takes one subscription per partition, each with its partition's
   * revision ({@link RegistryEvent#partition()}).
   *
   * @param partition 0 to {@link #partitions()} - 1
   */
  Subscription watchPartition(int partition, long afterRevision, RegistryListener<V> listener);

  /** {@link #watch(long, RegistryListener)} from now on. */
  default Subscription watch(RegistryListener<V> listener) {
    return watch(-1, listener);
  }
}
