package io.roster.it;

import io.roster.LocalProcess;
import io.roster.Registry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A running write load for tests: one thread registers {@code key-0}, {@code key-1}, ... for one
 * process, the even keys in one registry and the odd ones in another, and records which
 * registrations were acknowledged (and in which registry) and how many were not.
 */
final class WriteLoad implements AutoCloseable {
  private final Map<String, Boolean> acknowledged = new ConcurrentHashMap<>(); // key -> in the first registry
  private final AtomicInteger refused = new AtomicInteger();
  private final Thread thread;
  private volatile boolean running = true;

  WriteLoad(String name, Registry<String> even, Registry<String> odd, LocalProcess owner) {
    thread = new Thread(() -> {
      for (int i = 0; running; i++) {
        String key = "key-" + i;
        try {
          (i % 2 == 0 ? even : odd).register(key, owner, "v" + i);
          acknowledged.put(key, i % 2 == 0);
        } catch (RuntimeException e) {
          refused.incrementAndGet(); // unavailable for a moment: not acknowledged
        }
      }
    }, name);
    thread.start();
  }

  /** The acknowledged keys so far, each with whether it went to the first registry (live view). */
  Map<String, Boolean> acknowledged() {
    return acknowledged;
  }

  int refused() {
    return refused.get();
  }

  /** Stops the load and waits for its last write. */
  @Override
  public void close() throws InterruptedException {
    running = false;
    thread.join(TimeUnit.SECONDS.toMillis(30));
  }
}
