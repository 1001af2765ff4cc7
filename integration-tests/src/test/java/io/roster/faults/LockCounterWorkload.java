package io.roster.faults;

import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.RosterException;
import io.roster.ValueCodec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The lock and counter half of the workload. A thread per node takes one cluster-wide lock again
 * and again and records, from inside the locked function, when it held it and with which fencing
 * token: tokens must grow in the order of the holds and no two holds may overlap. Two threads per
 * node increment their node's counter (the value of one registration) with {@code updateValue}:
 * at the end it must count every acknowledged increment, and at most the unknown ones besides.
 */
final class LockCounterWorkload implements SideWorkload {
  /** One hold of the lock, in nanoseconds of the workload's clock. */
  record Hold(String node, long token, long start, long end) {}

  private final List<Thread> threads = new ArrayList<>();
  private final List<Hold> holds = Collections.synchronizedList(new ArrayList<>());
  private final List<Counter> counters = new ArrayList<>();
  private final long epoch;
  private volatile boolean stopped;

  /** A node's counter: its key, owner, and the increments acknowledged and of unknown outcome. */
  static final class Counter {
    final Registry<String> registry;
    final String key;
    final LocalProcess owner;
    final AtomicLong acknowledged = new AtomicLong();
    final AtomicLong unknown = new AtomicLong();

    Counter(Registry<String> registry, String key, LocalProcess owner) {
      this.registry = registry;
      this.key = key;
      this.owner = owner;
    }
  }

  LockCounterWorkload(List<RegistryNode> nodes, String name, long epochNanos) {
    this.epoch = epochNanos;
    for (RegistryNode node : nodes) {
      Registry<String> registry = node.registry(name, Keys.UNIQUE, ValueCodec.utf8());
      Thread locker = new Thread(() -> lockLoop(registry, node.nodeId()), "workload-lock-" + node.nodeId());
      threads.add(locker);
      LocalProcess owner = node.spawn();
      Counter c = new Counter(registry, "counter-" + node.nodeId(), owner);
      registry.register(c.key, owner, "0");
      counters.add(c);
      for (int t = 0; t < 2; t++) {
        threads.add(new Thread(() -> countLoop(c), "workload-count-" + node.nodeId() + "/" + t));
      }
    }
    threads.forEach(t -> {
      t.setDaemon(true);
      t.start();
    });
  }

  private long now() {
    return System.nanoTime() - epoch;
  }

  private void lockLoop(Registry<String> registry, String node) {
    while (!stopped) {
      try {
        registry.lock("the-lock", null, Duration.ofSeconds(5), token -> {
          long start = now();
          LockSupport.parkNanos(2_000_000); // the work done under the lock
          holds.add(new Hold(node, token, start, now()));
          return null;
        });
      } catch (RosterException e) {
        // not acquired in time, or no quorum: try again
      }
      LockSupport.parkNanos(25_000_000); // light on the 2 cores
    }
  }

  private void countLoop(Counter c) {
    while (!stopped) {
      try {
        Optional<?> updated = c.registry.updateValue(c.key, c.owner, v -> Long.toString(Long.parseLong(v) + 1));
        if (updated.isPresent()) {
          c.acknowledged.incrementAndGet();
        }
      } catch (RosterException e) {
        c.unknown.incrementAndGet();
      }
      LockSupport.parkNanos(25_000_000);
    }
  }

  @Override
  public void stop() {
    stopped = true;
    Workload.joinAll(threads);
  }

  @Override
  public List<String> stopAndCheck() {
    stop();
    List<String> violations = new ArrayList<>();
    List<Hold> byToken;
    synchronized (holds) {
      byToken = new ArrayList<>(holds);
    }
    byToken.sort(Comparator.comparingLong(Hold::token));
    for (int i = 1; i < byToken.size(); i++) {
      Hold a = byToken.get(i - 1);
      Hold b = byToken.get(i);
      if (a.token() == b.token()) {
        violations.add("two holds with token " + a.token() + ": " + a + ", " + b);
      } else if (b.start() < a.end()) {
        violations.add("holds overlap (or a later token held first): " + a + " then " + b);
      }
    }
    for (Counter c : counters) {
      String value = Optional.ofNullable(c.registry.lookup(c.key, io.roster.Consistency.LINEARIZABLE))
          .filter(l -> !l.isEmpty()).map(l -> l.get(0).value()).orElse(null);
      long v = value == null ? -1 : Long.parseLong(value);
      if (v < c.acknowledged.get() || v > c.acknowledged.get() + c.unknown.get()) {
        violations.add(c.key + " is " + v + " after " + c.acknowledged + " acknowledged increments and "
            + c.unknown + " of unknown outcome");
      }
    }
    return violations;
  }

  @Override
  public java.util.Map<String, Long> counts() {
    return java.util.Map.of("lock holds", (long) holds.size(),
        "counter increments", counters.stream().mapToLong(c -> c.acknowledged.get()).sum());
  }
}
