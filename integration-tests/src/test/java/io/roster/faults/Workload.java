package io.roster.faults;

import io.roster.AlreadyRegisteredException;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.MirrorLagException;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.RosterException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A recorded concurrent workload on shared keys: threads on each client node register, unregister
 * and read (linearizably) a few shared keys, each thread as a process of its own, and every call is
 * written to the history with its invocation and return times. A call that fails with no known
 * outcome (a timeout, no leader) is recorded as indeterminate.
 *
 * <p>With unique keys each thread also checks {@code atLeast(revision)} reads: after a register
 * that returned revision r, the key read on another node with {@code atLeast(r)} must show the
 * thread's own process (nobody else can remove or take it meanwhile). With duplicate keys a read
 * is the sorted list of the key's owners ({@link Model#DUPLICATE_KEY}).
 */
final class Workload implements AutoCloseable {
  private final List<Thread> threads = new ArrayList<>();
  private final List<Op> history = Collections.synchronizedList(new ArrayList<>());
  private final List<String> surprises = Collections.synchronizedList(new ArrayList<>());
  private final List<String> staleReads = Collections.synchronizedList(new ArrayList<>());
  private final java.util.concurrent.atomic.AtomicLong atLeastReads = new java.util.concurrent.atomic.AtomicLong();
  private final AtomicInteger ids = new AtomicInteger();
  private final long epoch;
  private final boolean duplicate;
  private final List<Registry<byte[]>> registries = new ArrayList<>();
  /** How long each thread rests between its calls (a side workload is light, so the machine is not starved). */
  private volatile long thinkNanos;
  /** The keys are this and a number: a registry shared by runs gives each run keys of its own. */
  private final String keyPrefix;
  private volatile boolean stopped;

  /**
   * Starts {@code threadsPerNode} threads on each node, over {@code keys} keys of the unique registry
   * {@code name} in {@code partitions} partitions, with a probe per node.
   */
  Workload(List<RegistryNode> nodes, String name, int partitions, int threadsPerNode, int keys, long epochNanos) {
    this(nodes, name, Keys.UNIQUE, partitions, threadsPerNode, 0, keys, "k", true, epochNanos);
  }

  /**
   * As above, with {@code readersPerNode} more threads on each node that only read, one read per
   * millisecond (they look at the moments just after another node's write returned), keys of
   * {@code keyKind} (unique or duplicate) named {@code keyPrefix} and a number, and a probe per node or none.
   */
  Workload(List<RegistryNode> nodes, String name, Keys keyKind, int partitions, int threadsPerNode, int readersPerNode,
      int keys, String keyPrefix, boolean probes, long epochNanos) {
    this.epoch = epochNanos;
    this.keyPrefix = keyPrefix;
    this.duplicate = keyKind != Keys.UNIQUE;
    for (RegistryNode node : nodes) {
      registries.add(node.registry(name, keyKind, partitions, io.roster.ValueCodec.bytes()));
    }
    for (int n = 0; n < nodes.size(); n++) {
      RegistryNode node = nodes.get(n);
      Registry<byte[]> registry = registries.get(n);
      Registry<byte[]> other = registries.get((n + 1) % nodes.size());
      for (int t = 0; t < threadsPerNode; t++) {
        LocalProcess process = node.spawn();
        String client = node.nodeId() + "/" + t;
        Thread thread = new Thread(() -> loop(registry, other, process, client, keys), "workload-" + client);
        thread.setDaemon(true);
        threads.add(thread);
      }
      for (int t = 0; t < readersPerNode; t++) {
        String client = node.nodeId() + "/r" + t;
        Thread thread = new Thread(() -> readLoop(registry, client, keys), "workload-" + client);
        thread.setDaemon(true);
        threads.add(thread);
      }
      if (probes) {
        LocalProcess prober = node.spawn();
        String probe = "probe-" + node.nodeId();
        Thread thread = new Thread(() -> probe(registry, prober, probe), "workload-" + probe);
        thread.setDaemon(true);
        threads.add(thread);
      }
    }
    threads.forEach(Thread::start);
  }

  /** Nanoseconds since the epoch the caller gave: the clock of the history. */
  long now() {
    return System.nanoTime() - epoch;
  }

  private void loop(Registry<byte[]> registry, Registry<byte[]> other, LocalProcess process, String client, int keys) {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    while (!stopped) {
      String key = keyPrefix + random.nextInt(keys);
      int dice = random.nextInt(100);
      if (dice < (duplicate ? 30 : 35)) { // a duplicate key's owners pile up unless unregisters outrun registers
        long revision = register(registry, process, client, key);
        if (revision > 0 && !duplicate && random.nextInt(3) == 0) {
          readAtLeast(other, process, key, revision);
        }
      } else if (dice < 60) {
        unregister(registry, process, client, key);
      } else {
        read(registry, client, key);
      }
      if (thinkNanos > 0) {
        java.util.concurrent.locks.LockSupport.parkNanos(thinkNanos);
      }
    }
  }

  /** Makes each thread rest {@code millis} between its calls; returns this workload. */
  Workload think(long millis) {
    thinkNanos = TimeUnit.MILLISECONDS.toNanos(millis);
    return this;
  }

  private void readLoop(Registry<byte[]> registry, String client, int keys) {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    while (!stopped) {
      read(registry, client, keyPrefix + random.nextInt(keys));
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
    }
  }

  /**
   * Registers and unregisters a key of its own, back to back: each write commits (none is refused
   * or answered locally), so the first one after a fault tells when writes are available again.
   */
  private void probe(Registry<byte[]> registry, LocalProcess process, String key) {
    while (!stopped) {
      register(registry, process, key, key);
      unregister(registry, process, key, key);
    }
  }

  /** Returns the registration's revision, or 0 if it was refused or its outcome is unknown. */
  private long register(Registry<byte[]> registry, LocalProcess process, String client, String key) {
    long call = now();
    String out;
    long revision = 0;
    try {
      revision = registry.register(key, process);
      out = "ok";
    } catch (AlreadyRegisteredException e) {
      out = "taken:" + e.owner();
    } catch (MirrorLagException e) {
      out = "ok"; // committed; only this node's mirror was late
    } catch (RosterException e) {
      out = unknown(e);
    }
    record(client, key, "register", process.pid().toString(), out, call);
    return revision;
  }

  /**
   * Reads {@code key} on another node at least at the revision of {@code process}'s registration of
   * it: the process must show, as no one else can remove the key or take it meanwhile.
   */
  private void readAtLeast(Registry<byte[]> other, LocalProcess process, String key, long revision) {
    try {
      Pid seen = other.whereis(key, io.roster.Consistency.atLeast(revision));
      atLeastReads.incrementAndGet();
      if (!process.pid().equals(seen)) {
        staleReads.add("whereis(" + key + ", atLeast(" + revision + ")) on another node returned " + seen
            + " after " + process.pid() + " registered it at that revision");
      }
    } catch (RosterException e) {
      unknown(e); // the other node's mirror did not get there in time: availability, not safety
    }
  }

  private void unregister(Registry<byte[]> registry, LocalProcess process, String client, String key) {
    long call = now();
    String out;
    try {
      registry.unregister(key, process).get(60, TimeUnit.SECONDS);
      out = "ok";
    } catch (Exception e) {
      out = unknown(e);
    }
    record(client, key, "unregister", process.pid().toString(), out, call);
  }

  private void read(Registry<byte[]> registry, String client, String key) {
    long call = now();
    String out;
    try {
      if (duplicate) {
        List<String> owners = registry.lookup(key, io.roster.Consistency.LINEARIZABLE).stream()
            .map(e -> e.pid().toString()).sorted().toList();
        out = owners.isEmpty() ? "none" : String.join(",", owners);
      } else {
        Pid owner = registry.whereisConsistent(key);
        out = owner == null ? "none" : owner.toString();
      }
    } catch (RosterException e) {
      out = unknown(e);
    }
    record(client, key, "read", null, out, call);
  }

  /** An outcome nobody knows (null); a failure a registry should not give is noted as a surprise. */
  private String unknown(Throwable e) {
    Throwable cause = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
    if (!(cause instanceof io.roster.RegistryUnavailableException)
        && !(cause instanceof java.util.concurrent.TimeoutException)
        && !String.valueOf(cause.getMessage()).contains("replayed")) {
      surprises.add(cause.toString());
    }
    return null;
  }

  private void record(String client, String key, String f, String arg, String out, long call) {
    long ret = out == null ? Op.INDETERMINATE : now();
    history.add(new Op(ids.getAndIncrement(), client, key, f, arg, out, call, ret));
  }

  /** Stops the threads (each ends its call in flight) and returns the history. */
  List<Op> stop() {
    stopped = true;
    joinAll(threads);
    synchronized (history) {
      return List.copyOf(history);
    }
  }

  /** Waits for each thread to end its call in flight (each call is bounded by its timeout). */
  static void joinAll(List<Thread> threads) {
    for (Thread t : threads) {
      try {
        t.join(TimeUnit.SECONDS.toMillis(120));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The history so far. */
  List<Op> snapshot() {
    synchronized (history) {
      return List.copyOf(history);
    }
  }

  /** {@code atLeast(revision)} reads that did not show the reading thread's own registration. */
  List<String> staleReads() {
    return List.copyOf(staleReads);
  }

  /** How many {@code atLeast(revision)} reads were answered. */
  long atLeastReads() {
    return atLeastReads.get();
  }

  /** Failures that are neither an outcome nor "unknown": none is expected. */
  List<String> surprises() {
    return List.copyOf(surprises);
  }

  @Override
  public void close() {
    stop();
  }
}
