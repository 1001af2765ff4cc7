package io.roster.internal.node;

// This file is large because one handle implements the whole Registry surface: its writes, and its
// reads over partitions, consistencies and the overlay of removals in flight, which share the lookup
// of a key's partitions and states. Locks are in RegistryLocks, the watch of many partitions in
// read.PartitionedWatch.

import io.roster.Consistency;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.LockedFunction;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.RegistryEntry;
import io.roster.RegistryListener;
import io.roster.RosterException;
import io.roster.Subscription;
import io.roster.ValueCodec;
import io.roster.ValueUpdate;
import io.roster.internal.Failures;
import io.roster.internal.read.PartitionedWatch;
import io.roster.internal.read.PendingRemovals;
import io.roster.internal.write.Writer;
import io.roster.mirror.Mirror;
import io.roster.proto.Result;
import io.roster.proto.Status;
import io.roster.schema.Commands;
import io.roster.schema.Limits;
import io.roster.schema.Registration;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/** A registry handle of a node; see {@link Registry} for the contract. */
final class RegistryImpl<V> implements Registry<V> {
  private static final byte[] NO_BYTES = new byte[0];
  /** Compare-and-set rounds of updateValue before it gives up (only the owner writes its value). */
  private static final int UPDATE_ATTEMPTS = 16;

  private final Node node;
  private final String name;
  private final Keys keys;
  private final ValueCodec<V> codec;
  /** The groups of the registry's partitions, in partition order: the cluster's group alone if it has one. */
  private final List<Group> parts;
  /** Per partition, its state in the mirror it was found in; found again when the node replaces a mirror. */
  private final AtomicReferenceArray<Found> found;
  /**
   * What reads hide: this node's removals in flight for LOCAL reads (DGen's fire-and-forget
   * unregister), nothing for consistent reads, which show only states that existed in the log.
   */
  private final PendingRemovals hidden;
  /** The same registry read without the overlay: what reads at a consistency other than LOCAL use. */
  private final RegistryImpl<V> committed;
  /** The same registry read with the overlay: LOCAL reads. */
  private final RegistryImpl<V> local;

  /** The registry's locks. */
  private final RegistryLocks locks;

  private record Found(Mirror mirror, Mirror.RegistryState state) {}

  RegistryImpl(Node node, String name, Keys keys, ValueCodec<V> codec, List<Group> parts) {
    this.node = node;
    this.name = name;
    this.keys = keys;
    this.codec = codec;
    this.parts = parts;
    this.found = new AtomicReferenceArray<>(parts.size());
    this.hidden = node.pending();
    this.locks = new RegistryLocks(node, name);
    this.local = this;
    this.committed = new RegistryImpl<>(this);
  }

  /** The view of {@code local} without the overlay of removals in flight. */
  private RegistryImpl(RegistryImpl<V> local) {
    this.node = local.node;
    this.name = local.name;
    this.keys = local.keys;
    this.codec = local.codec;
    this.parts = local.parts;
    this.found = local.found;
    this.hidden = PendingRemovals.NONE;
    this.locks = local.locks;
    this.local = local;
    this.committed = this;
  }

  /** This registry in partition {@code p}'s current mirror, or null while it has not seen it created. */
  private Mirror.RegistryState state(int p) {
    Mirror mirror = parts.get(p).mirror();
    Found f = found.get(p);
    if (f != null && f.mirror() == mirror) {
      return f.state();
    }
    Mirror.RegistryState state = mirror.registryState(name);
    if (state != null) {
      found.set(p, new Found(mirror, state));
    }
    return state;
  }

  // ------------------------------------------------------------------ partitions

  /**
   * The partition of a key: a hash every node computes alike (String.hashCode is specified), mixed
   * so that similar keys spread.
   */
  private int keyPartition(String key) {
    return parts.size() == 1 ? 0 : Math.floorMod(mix(key.hashCode()), parts.size());
  }

  private int pidPartition(Pid pid) {
    if (parts.size() == 1) {
      return 0;
    }
    int h = (pid.nodeId().hashCode() * 31 + Long.hashCode(pid.incarnation())) * 31 + Long.hashCode(pid.serial());
    return Math.floorMod(mix(h), parts.size());
  }

  /** Murmur3's 32-bit finalizer. */
  private static int mix(int h) {
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    h ^= h >>> 16;
    return h;
  }

  /** Where an entry of {@code pid} under {@code key} lives. */
  private int entryPartition(String key, Pid pid) {
    return keys == Keys.DUPLICATE ? pidPartition(pid) : keyPartition(key);
  }

  /** True when all entries of a key live in one partition. */
  private boolean keyInOnePartition() {
    return parts.size() == 1 || keys != Keys.DUPLICATE;
  }

  /** The partitions that may hold entries of {@code key}. */
  private int[] keyPartitions(String key) {
    return keyInOnePartition() ? new int[] {keyPartition(key)} : allPartitions();
  }

  /** Registry-wide metadata lives in the cluster's group, with the registry's descriptor. */
  private Group metaGroup() {
    return parts.size() == 1 ? parts.get(0) : node.clusterGroup();
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Keys keys() {
    return keys;
  }

  @Override
  public int partitions() {
    return parts.size();
  }

  @Override
  public ValueCodec<V> codec() {
    return codec;
  }

  // ------------------------------------------------------------------ writes

  @Override
  public long register(String key, LocalProcess process, V value) {
    return Node.join(registerAsync(key, process, value));
  }

  @Override
  public CompletableFuture<Long> registerAsync(String key, LocalProcess process, V value) {
    checkKey(key);
    Pid pid = node.ownProcess(process);
    int p = entryPartition(key, pid);
    byte[] bytes = encodeValue(state(p), key, value);
    return parts.get(p).write(Commands.register(name, key, bytes, pid), key);
  }

  @Override
  public CompletableFuture<Long> unregister(String key, LocalProcess process) {
    checkKey(key);
    Pid pid = Objects.requireNonNull(process, "process").pid();
    Group group = parts.get(entryPartition(key, pid));
    node.pending().addKey(name, key, pid);
    CompletableFuture<Long> outcome = group.write(Commands.unregister(name, key, pid), key);
    outcome.whenComplete((revision, error) -> {
      if (Failures.cause(error) instanceof io.roster.MirrorLagException lag) {
        // committed, not yet applied here: keep hiding the key until it is
        group.afterApplied(lag.revision(), () -> node.pending().removeKey(name, key, pid));
      } else {
        node.pending().removeKey(name, key, pid); // applied here (the write waits for it), or failed
      }
    });
    return outcome;
  }

  @Override
  public int unregisterMatch(String key, LocalProcess process, Predicate<? super V> pattern) {
    checkKey(key);
    Objects.requireNonNull(pattern, "pattern");
    Pid pid = node.ownProcess(process);
    int p = entryPartition(key, pid);
    Group group = parts.get(p);
    Node.join(group.reach(Consistency.LINEARIZABLE));
    List<Registration> matching = new ArrayList<>();
    for (Registration r : registrations(p, key)) {
      if (r.pid().equals(pid) && pattern.test(decode(r))) {
        matching.add(r);
      }
    }
    int removed = 0;
    for (int from = 0; from < matching.size(); from += Limits.BATCH_COMMANDS_MAX) {
      List<Registration> chunk = matching.subList(from, Math.min(matching.size(), from + Limits.BATCH_COMMANDS_MAX));
      Result r = Node.join(group.writeResult(Commands.unregisterEntries(name, key, pid, chunk)));
      Writer.revisionOrThrow(r, key); // applied on this node's mirror when it returns
      removed += (int) r.getRemoved();
    }
    return removed;
  }

  @Override
  public Optional<ValueUpdate<V>> updateValue(String key, LocalProcess process, UnaryOperator<V> update) {
    checkKey(key);
    Objects.requireNonNull(update, "update");
    if (keys != Keys.UNIQUE) {
      throw new IllegalArgumentException("updateValue needs a unique registry; '" + name + "' has duplicate keys");
    }
    Pid pid = node.ownProcess(process);
    int p = keyPartition(key);
    Group group = parts.get(p);
    Consistency fresh = Consistency.LINEARIZABLE; // sees the owner's own writes from any node of the cluster
    for (int attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      Node.join(group.reach(fresh));
      Registration current = registrations(p, key).stream().filter(r -> r.pid().equals(pid)).findFirst().orElse(null);
      if (current == null) {
        return Optional.empty();
      }
      V old = decode(current);
      V next = update.apply(old);
      Result r = Node.join(group.writeResult(Commands.updateValue(name, key, encodeValue(state(p), key, next), pid, current)));
      if (r.getStatus() == Status.VALUE_CHANGED) {
        fresh = Consistency.atLeast(r.getRevision()); // someone else wrote: read past it and retry
        continue;
      }
      if (r.getStatus() == Status.NOT_REGISTERED || r.getStatus() == Status.NOT_OWNER) {
        return Optional.empty();
      }
      long revision = Writer.revisionOrThrow(r, key);
      return Optional.of(new ValueUpdate<>(next, old, revision));
    }
    throw new RosterException("updateValue of '" + key + "' lost " + UPDATE_ATTEMPTS
        + " compare-and-set rounds in a row: the value keeps changing");
  }

  @Override
  public long putMeta(String key, V value) {
    checkKey(key);
    Mirror.RegistryState state = parts.size() == 1 ? state(0) : node.mirror().registryState(name);
    byte[] bytes = encodeValue(state, key, value);
    return Node.join(metaGroup().write(Commands.putMeta(name, key, bytes == null ? NO_BYTES : bytes), key));
  }

  @Override
  public long deleteMeta(String key) {
    checkKey(key);
    return Node.join(metaGroup().write(Commands.deleteMeta(name, key), key));
  }

  // ------------------------------------------------------------------ reads

  @Override
  public Registry<V> at(Consistency consistency) {
    Objects.requireNonNull(consistency, "consistency");
    if (parts.size() > 1 && !consistency.linearizable() && consistency.revision() > 0) {
      throw new IllegalArgumentException("registry '" + name + "' spans " + parts.size() + " partitions, each with "
          + "its own revisions: read it LINEARIZABLE, or read one key at a revision");
    }
    if (parts.size() > 1 && consistency.linearizable()) {
      CompletableFuture<Long> meta = metaGroup().reach(consistency); // metadata lives in the cluster's group
      reach(consistency, allPartitions());
      Node.join(meta);
    } else {
      reach(consistency, allPartitions());
    }
    return consistency == Consistency.LOCAL ? local : committed;
  }

  private int[] allPartitions() {
    int[] all = new int[parts.size()];
    for (int i = 0; i < all.length; i++) {
      all[i] = i;
    }
    return all;
  }

  /** Waits until the mirrors of the partitions reach {@code consistency}, all at once. */
  private void reach(Consistency consistency, int[] partitions) {
    if (!consistency.linearizable() && consistency.revision() == 0) {
      return;
    }
    if (partitions.length == 1) {
      Node.join(parts.get(partitions[0]).reach(consistency));
      return;
    }
    List<CompletableFuture<Long>> all = new ArrayList<>(partitions.length);
    for (int p : partitions) {
      all.add(parts.get(p).reach(consistency));
    }
    all.forEach(Node::join);
  }

  /** Waits for {@code consistency} where {@code key} lives; a revision needs the key in one partition. */
  private void reachForKey(String key, Consistency consistency) {
    Limits.requireWellFormed(key, "key");
    Objects.requireNonNull(consistency, "consistency");
    if (!keyInOnePartition() && !consistency.linearizable() && consistency.revision() > 0) {
      throw new IllegalArgumentException("registry '" + name + "' keeps a key's entries in every partition, each "
          + "with its own revisions: read the key LINEARIZABLE");
    }
    reach(consistency, keyPartitions(key));
  }

  @Override
  public Pid whereis(String key) {
    Limits.requireWellFormed(key, "key");
    if (keyInOnePartition()) {
      Mirror.RegistryState state = state(keyPartition(key));
      Pid owner = state == null ? null : state.whereis(key);
      if (owner == null || !hidden.hides(name, key, owner)) {
        return owner;
      }
    }
    List<Registration> visible = registrations(key); // the first entry is hidden; a duplicate key may have others
    return visible.isEmpty() ? null : visible.get(0).pid();
  }

  @Override
  public Pid whereisConsistent(String key) {
    return whereis(key, Consistency.LINEARIZABLE);
  }

  @Override
  public Pid whereis(String key, Consistency consistency) {
    reachForKey(key, consistency);
    return (consistency == Consistency.LOCAL ? local : committed).whereis(key);
  }

  @Override
  public List<RegistryEntry<V>> lookup(String key) {
    return match(key, v -> true);
  }

  @Override
  public List<RegistryEntry<V>> lookup(String key, Consistency consistency) {
    reachForKey(key, consistency);
    return (consistency == Consistency.LOCAL ? local : committed).lookup(key);
  }

  @Override
  public List<RegistryEntry<V>> match(String key, Predicate<? super V> pattern) {
    Objects.requireNonNull(pattern, "pattern");
    List<RegistryEntry<V>> entries = new ArrayList<>();
    for (Registration r : registrations(key)) {
      RegistryEntry<V> e = entry(r);
      if (pattern.test(e.value())) {
        entries.add(e);
      }
    }
    return entries;
  }

  @Override
  public long count() {
    if (!hidden.any()) {
      long n = 0;
      for (int p = 0; p < parts.size(); p++) {
        Mirror.RegistryState state = state(p);
        n += state == null ? 0 : state.size(); // constant time per partition, as Elixir's count
      }
      return n;
    }
    long[] n = new long[1];
    forEachVisible(r -> n[0]++); // something is hidden on this node: count what is not, without decoding
    return n[0];
  }

  @Override
  public long countMatch(String key, Predicate<? super V> pattern) {
    return match(key, pattern).size();
  }

  @Override
  public <R> List<R> select(Predicate<? super RegistryEntry<V>> filter, Function<? super RegistryEntry<V>, R> body) {
    Objects.requireNonNull(filter, "filter");
    Objects.requireNonNull(body, "body");
    List<R> out = new ArrayList<>();
    forEachVisible(r -> {
      RegistryEntry<V> e = entry(r);
      if (filter.test(e)) {
        out.add(body.apply(e));
      }
    });
    return out;
  }

  @Override
  public long countSelect(Predicate<? super RegistryEntry<V>> filter) {
    Objects.requireNonNull(filter, "filter");
    AtomicLong n = new AtomicLong();
    forEachVisible(r -> {
      if (filter.test(entry(r))) {
        n.incrementAndGet();
      }
    });
    return n.get();
  }

  @Override
  public List<String> keys(Pid pid) {
    Objects.requireNonNull(pid, "pid");
    List<String> out = new ArrayList<>();
    for (int p = 0; p < parts.size(); p++) {
      for (Registration r : parts.get(p).mirror().registrationsOf(pid)) {
        if (r.registry().name().equals(name) && !hidden.hides(name, r.key(), pid)) {
          out.add(r.key());
        }
      }
    }
    return out;
  }

  @Override
  public List<V> values(String key, Pid pid) {
    Objects.requireNonNull(pid, "pid");
    List<V> out = new ArrayList<>();
    for (Registration r : registrations(key)) {
      if (r.pid().equals(pid)) {
        out.add(decode(r));
      }
    }
    return out;
  }

  @Override
  public boolean dispatch(String key, Consumer<List<RegistryEntry<V>>> callback, boolean parallel) {
    Limits.requireWellFormed(key, "key");
    Objects.requireNonNull(callback, "callback");
    List<List<RegistryEntry<V>>> batches = new ArrayList<>();
    for (int p : keyPartitions(key)) {
      List<RegistryEntry<V>> entries = new ArrayList<>();
      for (Registration r : registrations(p, key)) {
        entries.add(entry(r));
      }
      if (!entries.isEmpty()) {
        batches.add(entries);
      }
    }
    if (batches.isEmpty()) {
      return false;
    }
    if (!parallel || batches.size() == 1) {
      batches.forEach(callback);
      return true;
    }
    List<java.util.concurrent.Future<?>> running = new ArrayList<>(batches.size());
    for (List<RegistryEntry<V>> batch : batches.subList(1, batches.size())) {
      running.add(node.dispatchExecutor().submit(() -> callback.accept(batch)));
    }
    RosterException failure = null;
    try {
      callback.accept(batches.get(0)); // the first partition's in the calling thread
    } catch (RuntimeException e) {
      failure = new RosterException("a dispatch callback of '" + key + "' threw: " + e, e);
    }
    for (java.util.concurrent.Future<?> f : running) {
      try {
        f.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RosterException("interrupted while dispatching '" + key + "'", e);
      } catch (ExecutionException e) {
        if (failure == null) {
          failure = new RosterException("a dispatch callback of '" + key + "' threw: " + e.getCause(), e.getCause());
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
    return true;
  }

  @Override
  public Optional<V> meta(String key) {
    Limits.requireWellFormed(key, "key");
    Mirror.RegistryState state = parts.size() == 1 ? state(0) : node.mirror().registryState(name);
    byte[] bytes = state == null ? null : state.meta(key);
    return bytes == null ? Optional.empty() : Optional.of(codec.decode(bytes));
  }

  @Override
  public Pid send(String key, byte[] message) {
    Pid owner = owner(key);
    node.send(owner, message); // a process that died meanwhile drops it, as in Erlang
    return owner;
  }

  @Override
  public byte[] call(String key, byte[] request, Duration timeout) {
    return Node.join(node.callAsync(owner(key), request, timeout));
  }

  /** The owner a message under {@code key} goes to. */
  private Pid owner(String key) {
    checkKey(key);
    if (keys != Keys.UNIQUE) {
      throw new IllegalArgumentException("send and call resolve unique names; '" + name + "' has " + keys
          + " keys: dispatch to its entries instead");
    }
    Pid owner = whereis(key);
    if (owner == null) {
      throw new io.roster.NotRegisteredException(name, key);
    }
    return owner;
  }

  @Override
  public <T> T lock(String lockKey, LocalProcess holder, Duration timeout, LockedFunction<T> fn) {
    Objects.requireNonNull(fn, "fn");
    return lockWithLease(lockKey, holder, timeout, lease -> fn.apply(lease.fencingToken()));
  }

  @Override
  public <T> T lockWithLease(String lockKey, LocalProcess holder, Duration timeout, io.roster.LeasedFunction<T> fn) {
    checkKey(lockKey);
    return locks.lock(parts.get(keyPartition(lockKey)), lockKey, holder, timeout, fn); // in its key's partition
  }

  @Override
  public Subscription watch(long afterRevision, RegistryListener<V> listener) {
    if (parts.size() == 1) {
      return node.watch(parts.get(0), 0, name, codec, afterRevision, listener);
    }
    Objects.requireNonNull(listener, "listener");
    if (afterRevision != -1) {
      throw new IllegalArgumentException("registry '" + name + "' spans " + parts.size() + " partitions, each with "
          + "its own revisions: watch it from now (-1), or resume each partition with watchPartition");
    }
    PartitionedWatch<V> all = new PartitionedWatch<>(listener);
    try {
      for (int p = 0; p < parts.size(); p++) {
        all.add(node.watch(parts.get(p), p, name, codec, -1, all));
      }
    } catch (RuntimeException e) {
      all.close();
      throw e;
    }
    return all;
  }

  @Override
  public Subscription watchPartition(int partition, long afterRevision, RegistryListener<V> listener) {
    if (partition < 0 || partition >= parts.size()) {
      throw new IllegalArgumentException("registry '" + name + "' has partitions 0.." + (parts.size() - 1)
          + ", not " + partition);
    }
    return node.watch(parts.get(partition), partition, name, codec, afterRevision, listener);
  }

  // ------------------------------------------------------------------ helpers

  /** The entries of a key that this node does not hide: partition by partition, oldest first in each. */
  private List<Registration> registrations(String key) {
    Limits.requireWellFormed(key, "key");
    int[] partitions = keyPartitions(key);
    if (partitions.length == 1) {
      return registrations(partitions[0], key);
    }
    List<Registration> all = new ArrayList<>();
    for (int p : partitions) {
      all.addAll(registrations(p, key));
    }
    return all;
  }

  /** The entries of a key in partition {@code p} that this node does not hide, oldest first. */
  private List<Registration> registrations(int p, String key) {
    Limits.requireWellFormed(key, "key");
    Mirror.RegistryState state = state(p);
    List<Registration> found = state == null ? List.of() : state.lookup(key);
    if (found.isEmpty() || !hidden.any()) {
      return found;
    }
    List<Registration> visible = new ArrayList<>(found.size());
    for (Registration r : found) {
      if (!hidden.hides(name, key, r.pid())) {
        visible.add(r);
      }
    }
    return visible;
  }

  private void forEachVisible(Consumer<Registration> visitor) {
    PendingRemovals pending = hidden;
    for (int p = 0; p < parts.size(); p++) {
      Mirror.RegistryState state = state(p);
      if (state != null) {
        state.forEach(r -> {
          if (!pending.hides(name, r.key(), r.pid())) {
            visitor.accept(r);
          }
        });
      }
    }
  }

  private RegistryEntry<V> entry(Registration r) {
    return new RegistryEntry<>(r.key(), r.pid(), decode(r), r.revision());
  }

  /** The registration's value; null for one made with no value (Elixir's nil), never the codec's decoding of nothing. */
  private V decode(Registration r) {
    return r.hasValue() ? codec.decode(r.valueUnsafe()) : null;
  }

  /**
   * A value in bytes (null for no value), checked against the registry's limit (replicated with
   * its descriptor) so that an oversized value is refused here, naming the limit.
   */
  private byte[] encodeValue(Mirror.RegistryState state, String key, V value) {
    if (value == null) {
      return null;
    }
    byte[] bytes = encode(value);
    int max = state == null ? Limits.VALUE_BYTES_CAP : state.descriptor().maxValueBytes();
    if (bytes.length > max) {
      throw new io.roster.LimitExceededException("the value for '" + key + "' is " + bytes.length
          + " bytes; registry '" + name + "' takes values of at most " + max + " bytes");
    }
    return bytes;
  }

  private byte[] encode(V value) {
    byte[] bytes = codec.encode(value);
    if (bytes == null) {
      throw new IllegalArgumentException("codec " + codec + " encoded " + value + " as null");
    }
    return bytes;
  }

  private static void checkKey(String key) {
    Limits.requireWellFormed(key, "key");
    if (key.isEmpty()) {
      throw new IllegalArgumentException("key must not be empty");
    }
  }

  @Override
  public String toString() {
    return "registry " + name + " (" + keys + ", " + parts.size() + " partition" + (parts.size() == 1 ? "" : "s") + ", "
        + codec + ") on " + node.nodeId();
  }
}
