package io.roster.faults;

import io.roster.AlreadyRegisteredException;
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
 * A recorded concurrent workload on unique keys: threads on each client node register, unregister
 * and read ({@code whereisConsistent}) a few shared keys, each thread as a process of its own, and
 * every call is written to the history with its invocation and return times. A call that fails with
 * no known outcome (a timeout, no leader) is recorded as indeterminate.
 */
final class Workload implements AutoCloseable {
  private final List<Thread> threads = new ArrayList<>();
  private final List<Op> history = Collections.synchronizedList(new ArrayList<>());
  private final List<String> surprises = Collections.synchronizedList(new ArrayList<>());
  private final AtomicInteger ids = new AtomicInteger();
  private final long epoch;
  private volatile boolean stopped;

  /**
   * Starts {@code threadsPerNode} threads on each node, over {@code keys} keys of registry {@code name}.
   */
  Workload(List<RegistryNode> nodes, String name, int threadsPerNode, int keys, long epochNanos) {
    this(nodes, name, threadsPerNode, 0, keys, epochNanos);
  }

  /**
   * As above, with {@code readersPerNode} more threads on each node that only read, one read per
   * millisecond: they look at the moments just after another node's write returned.
   */
  Workload(List<RegistryNode> nodes, String name, int threadsPerNode, int readersPerNode, int keys, long epochNanos) {
    this.epoch = epochNanos;
    for (RegistryNode node : nodes) {
      Registry<byte[]> registry = node.registry(name);
      for (int t = 0; t < threadsPerNode; t++) {
        LocalProcess process = node.spawn();
        String client = node.nodeId() + "/" + t;
        Thread thread = new Thread(() -> loop(registry, process, client, keys), "workload-" + client);
        thread.setDaemon(true);
        threads.add(thread);
      }
      for (int t = 0; t < readersPerNode; t++) {
        String client = node.nodeId() + "/r" + t;
        Thread thread = new Thread(() -> readLoop(registry, client, keys), "workload-" + client);
        thread.setDaemon(true);
        threads.add(thread);
      }
      LocalProcess prober = node.spawn();
      String probe = "probe-" + node.nodeId();
      Thread thread = new Thread(() -> probe(registry, prober, probe), "workload-" + probe);
      thread.setDaemon(true);
      threads.add(thread);
    }
    threads.forEach(Thread::start);
  }

  /** Nanoseconds since the epoch the caller gave: the clock of the history. */
  long now() {
    return System.nanoTime() - epoch;
  }

  private void loop(Registry<byte[]> registry, LocalProcess process, String client, int keys) {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    while (!stopped) {
      String key = "k" + random.nextInt(keys);
      int dice = random.nextInt(100);
      if (dice < 35) {
        register(registry, process, client, key);
      } else if (dice < 60) {
        unregister(registry, process, client, key);
      } else {
        read(registry, client, key);
      }
    }
  }

  private void readLoop(Registry<byte[]> registry, String client, int keys) {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    while (!stopped) {
      read(registry, client, "k" + random.nextInt(keys));
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

  private void register(Registry<byte[]> registry, LocalProcess process, String client, String key) {
    long call = now();
    String out;
    try {
      registry.register(key, process);
      out = "ok";
    } catch (AlreadyRegisteredException e) {
      out = "taken:" + e.owner();
    } catch (MirrorLagException e) {
      out = "ok"; // committed; only this node's mirror was late
    } catch (RosterException e) {
      out = unknown(e);
    }
    record(client, key, "register", process.pid().toString(), out, call);
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
      Pid owner = registry.whereisConsistent(key);
      out = owner == null ? "none" : owner.toString();
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

  /** Failures that are neither an outcome nor "unknown": none is expected. */
  List<String> surprises() {
    return List.copyOf(surprises);
  }

  @Override
  public void close() {
    stop();
  }
}
