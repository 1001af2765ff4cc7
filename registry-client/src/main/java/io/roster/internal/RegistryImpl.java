package io.roster.internal;

import io.roster.Consistency;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.RegistryEntry;
import io.roster.LockTimeoutException;
import io.roster.LockedFunction;
import io.roster.RegistryListener;
import io.roster.RosterException;
import io.roster.Subscription;
import io.roster.ValueCodec;
import io.roster.ValueUpdate;
import io.roster.statemachine.Commands;
import io.roster.statemachine.Limits;
import io.roster.statemachine.Mirror;
import io.roster.statemachine.Registration;
import io.roster.statemachine.proto.Result;
import io.roster.statemachine.proto.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
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
  /** This registry's state in the mirror it was found in; found again when the node replaces its mirror. */
  private volatile Found found;

  private record Found(Mirror mirror, Mirror.RegistryState state) {}

  RegistryImpl(Node node, String name, Keys keys, ValueCodec<V> codec) {
    this.node = node;
    this.name = name;
    this.keys = keys;
    this.codec = codec;
  }

  /** This registry in the node's current mirror, or null while the mirror has not seen it created. */
  private Mirror.RegistryState state() {
    Mirror mirror = node.mirror();
    Found f = found;
    if (f != null && f.mirror() == mirror) {
      return f.state();
    }
    Mirror.RegistryState state = mirror.registryState(name);
    if (state != null) {
      found = new Found(mirror, state);
    }
    return state;
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
    byte[] bytes = encode(value);
    Pid pid = node.ownProcess(process);
    return node.write(Commands.register(name, key, bytes, pid), key);
  }

  @Override
  public CompletableFuture<Long> unregister(String key, LocalProcess process) {
    checkKey(key);
    Pid pid = Objects.requireNonNull(process, "process").pid();
    node.pending().addKey(name, key, pid);
    CompletableFuture<Long> outcome = node.write(Commands.unregister(name, key, pid), key);
    outcome.whenComplete((revision, error) -> {
      if (error != null) {
        node.pending().removeKey(name, key, pid);
      } else {
        // keep hiding the key until this node's mirror has applied the removal
        node.afterApplied(revision, () -> node.pending().removeKey(name, key, pid));
      }
    });
    return outcome;
  }

  @Override
  public int unregisterMatch(String key, LocalProcess process, Predicate<? super V> pattern) {
    checkKey(key);
    Objects.requireNonNull(pattern, "pattern");
    Pid pid = node.ownProcess(process);
    node.await(Consistency.LINEARIZABLE);
    List<Registration> matching = new ArrayList<>();
    for (Registration r : registrations(key)) {
      if (r.pid().equals(pid) && pattern.test(decode(r))) {
        matching.add(r);
      }
    }
    int removed = 0;
    long revision = 0;
    for (int from = 0; from < matching.size(); from += Limits.BATCH_COMMANDS_MAX) {
      List<Registration> chunk = matching.subList(from, Math.min(matching.size(), from + Limits.BATCH_COMMANDS_MAX));
      Result r = Node.join(node.writeResult(Commands.unregisterEntries(name, key, pid, chunk)));
      revision = Writer.revisionOrThrow(r, key);
      removed += (int) r.getRemoved();
    }
    if (revision > 0) {
      node.await(Consistency.atLeast(revision));
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
    Consistency fresh = Consistency.LINEARIZABLE; // sees the owner's own writes from any node of the cluster
    for (int attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      node.await(fresh);
      Registration current = registrations(key).stream().filter(r -> r.pid().equals(pid)).findFirst().orElse(null);
      if (current == null) {
        return Optional.empty();
      }
      V old = decode(current);
      V next = update.apply(old);
      Result r = Node.join(node.writeResult(Commands.updateValue(name, key, encode(next), pid, current)));
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
    return Node.join(node.write(Commands.putMeta(name, key, encode(value)), key));
  }

  @Override
  public long deleteMeta(String key) {
    checkKey(key);
    return Node.join(node.write(Commands.deleteMeta(name, key), key));
  }

  // ------------------------------------------------------------------ reads

  @Override
  public Registry<V> at(Consistency consistency) {
    node.await(consistency);
    return this;
  }

  @Override
  public Pid whereis(String key) {
    Mirror.RegistryState state = state();
    Pid owner = state == null ? null : state.whereis(key);
    if (owner == null || !node.pending().hides(name, key, owner)) {
      return owner;
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
    node.await(consistency);
    return whereis(key);
  }

  @Override
  public List<RegistryEntry<V>> lookup(String key) {
    return match(key, v -> true);
  }

  @Override
  public List<RegistryEntry<V>> lookup(String key, Consistency consistency) {
    node.await(consistency);
    return lookup(key);
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
    Mirror.RegistryState state = state();
    if (state == null) {
      return 0;
    }
    if (!node.pending().any()) {
      return state.size(); // constant time, as Elixir's count
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
    for (Registration r : node.mirror().registrationsOf(pid)) {
      if (r.registry().name().equals(name) && !node.pending().hides(name, r.key(), pid)) {
        out.add(r.key());
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
  public boolean dispatch(String key, Consumer<List<RegistryEntry<V>>> callback) {
    Objects.requireNonNull(callback, "callback");
    List<RegistryEntry<V>> entries = lookup(key);
    if (entries.isEmpty()) {
      return false;
    }
    callback.accept(entries);
    return true;
  }

  @Override
  public Optional<V> meta(String key) {
    Objects.requireNonNull(key, "key");
    Mirror.RegistryState state = state();
    byte[] bytes = state == null ? null : state.meta(key);
    return bytes == null ? Optional.empty() : Optional.of(codec.decode(bytes));
  }

  @Override
  public <T> T lock(String lockKey, LocalProcess holder, Duration timeout, LockedFunction<T> fn) {
    checkKey(lockKey);
    Objects.requireNonNull(fn, "fn");
    if (timeout != null && timeout.isNegative()) {
      throw new IllegalArgumentException("timeout must not be negative, was " + timeout);
    }
    long start = System.nanoTime();
    long waitNanos = timeout == null ? Long.MAX_VALUE : saturatedNanos(timeout);
    LocalProcess process = holder != null ? holder : node.spawn();
    try {
      Pid pid = node.ownProcess(process);
      long token = acquire(lockKey, pid, start, waitNanos);
      T result;
      try {
        node.ownProcess(process); // a holder that died while acquiring lost the lock with its death
        result = fn.apply(token);
      } catch (Throwable failure) {
        try {
          release(lockKey, pid);
        } catch (RuntimeException releaseFailure) {
          failure.addSuppressed(releaseFailure);
        }
        if (failure instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        if (failure instanceof Error e) {
          throw e;
        }
        if (failure instanceof RuntimeException e) {
          throw e;
        }
        throw new RosterException("the function run under lock '" + lockKey + "' failed: " + failure, failure);
      }
      try {
        release(lockKey, pid);
      } catch (RuntimeException releaseFailure) {
        if (holder != null) { // the lock stays with a live process: the caller must know
          throw new RosterException("the function under lock '" + lockKey + "' ran, but the release failed; "
              + "the lock is held until " + pid + " dies: " + releaseFailure.getMessage(), releaseFailure);
        } // else the call's own process, ending below, releases the lock as it dies
      }
      return result;
    } finally {
      if (holder == null) {
        process.close();
      }
    }
  }

  private static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  /**
   * Takes the lock, waiting for its holder to release it; returns the fencing token. Wakes at each
   * change this node applies to look at the lock, and sends the acquire again at least every second,
   * so a release this node's mirror misses (a lagging voter stream) still ends the wait.
   */
  private long acquire(String lockKey, Pid pid, long start, long waitNanos) {
    while (true) {
      CompletableFuture<Void> changed = node.history().nextChange(); // taken before trying: no release is missed
      Result r;
      try {
        r = Node.join(node.writeResult(Commands.acquireLock(name, lockKey, pid)));
      } catch (RuntimeException unknown) {
        bestEffortRelease(lockKey, pid); // the acquire may have applied after all
        throw unknown;
      }
      if (r.getStatus() == Status.OK) {
        return r.getToken();
      }
      if (r.getStatus() == Status.REPLAYED) {
        bestEffortRelease(lockKey, pid);
      }
      if (r.getStatus() != Status.LOCK_HELD) {
        Writer.revisionOrThrow(r, lockKey);
        throw new RosterException("lock '" + lockKey + "': " + r.getStatus() + " " + r.getDetail());
      }
      Pid owner = io.roster.statemachine.Codec.fromProto(r.getOwner());
      if (owner.equals(pid)) {
        throw new IllegalStateException(pid + " already holds lock '" + lockKey + "' (locks are not re-entrant)");
      }
      node.await(Consistency.atLeast(r.getRevision())); // this mirror sees the holder
      long retryAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
      while (heldBy(lockKey, owner) && System.nanoTime() - retryAt < 0) {
        long left = waitNanos - (System.nanoTime() - start);
        if (left <= 0) {
          throw new LockTimeoutException("lock '" + lockKey + "' is still held by " + owner, owner);
        }
        try {
          changed.get(Math.min(left, Math.max(1, retryAt - System.nanoTime())), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
          // send the acquire again
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new RosterException("interrupted while waiting for lock '" + lockKey + "'", e);
        } catch (ExecutionException e) {
          throw new RosterException("waiting for lock '" + lockKey + "' failed: " + e.getCause(), e.getCause());
        }
        changed = node.history().nextChange();
      }
      if (System.nanoTime() - start - waitNanos >= 0) {
        throw new LockTimeoutException("lock '" + lockKey + "' was not acquired in time", owner);
      }
    }
  }

  private boolean heldBy(String lockKey, Pid owner) {
    io.roster.statemachine.LockHold held = node.mirror().lock(name, lockKey);
    return held != null && held.pid().equals(owner);
  }

  private void release(String lockKey, Pid pid) {
    Result r = Node.join(node.writeResult(Commands.releaseLock(name, lockKey, pid)));
    if (r.getStatus() != Status.OK && r.getStatus() != Status.NOT_OWNER) {
      Writer.revisionOrThrow(r, lockKey); // NOT_OWNER: the session expired and took the lock with it
    }
  }

  /** After an acquire of unknown outcome: a release by pid is harmless if it was never taken. */
  private void bestEffortRelease(String lockKey, Pid pid) {
    node.writeResult(Commands.releaseLock(name, lockKey, pid));
  }

  @Override
  public Subscription watch(long afterRevision, RegistryListener<V> listener) {
    return node.watch(name, codec, afterRevision, listener);
  }

  // ------------------------------------------------------------------ helpers

  /** The entries of a key that this node does not hide, oldest first. */
  private List<Registration> registrations(String key) {
    Objects.requireNonNull(key, "key");
    Mirror.RegistryState state = state();
    List<Registration> found = state == null ? List.of() : state.lookup(key);
    if (found.isEmpty() || !node.pending().any()) {
      return found;
    }
    List<Registration> visible = new ArrayList<>(found.size());
    for (Registration r : found) {
      if (!node.pending().hides(name, key, r.pid())) {
        visible.add(r);
      }
    }
    return visible;
  }

  private void forEachVisible(Consumer<Registration> visitor) {
    Mirror.RegistryState state = state();
    if (state != null) {
      PendingRemovals pending = node.pending();
      state.forEach(r -> {
        if (!pending.hides(name, r.key(), r.pid())) {
          visitor.accept(r);
        }
      });
    }
  }

  private RegistryEntry<V> entry(Registration r) {
    return new RegistryEntry<>(r.key(), r.pid(), decode(r), r.revision());
  }

  private V decode(Registration r) {
    return codec.decode(r.valueUnsafe());
  }

  private byte[] encode(V value) {
    if (value == null) {
      return NO_BYTES;
    }
    byte[] bytes = codec.encode(value);
    if (bytes == null) {
      throw new IllegalArgumentException("codec " + codec + " encoded " + value + " as null");
    }
    return bytes;
  }

  private static void checkKey(String key) {
    Objects.requireNonNull(key, "key");
    if (key.isEmpty()) {
      throw new IllegalArgumentException("key must not be empty");
    }
  }

  @Override
  public String toString() {
    return "registry " + name + " (" + keys + ", " + codec + ") on " + node.nodeId();
  }
}
