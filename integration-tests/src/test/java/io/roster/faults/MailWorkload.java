package io.roster.faults;

import io.roster.CallException;
import io.roster.LimitExceededException;
import io.roster.LocalProcess;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.RosterException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.awaitility.Awaitility;

/**
 * Messages between named processes while the voters fail: each node runs an inbox process,
 * registered under a name, and a sender that sends numbered messages to the other node's inbox,
 * every tenth one as a call. Per pair, the inbox must see the numbers strictly rising (no
 * duplicate, no reordering), and once the senders stop every message whose send was accepted, and
 * every call that was answered or timed out, must arrive (no loss: both ends live, and the
 * connection between them is not cut by the voters' faults). A send or call that failed at once
 * may or may not arrive.
 */
final class MailWorkload implements SideWorkload {
  private final List<Thread> threads = new ArrayList<>();
  private final List<String> violations = Collections.synchronizedList(new ArrayList<>());
  /** Per sender: the numbers it must see delivered. */
  private final Map<String, Set<Long>> accepted = new ConcurrentHashMap<>();
  /** Per sender: the last number its inbox saw. */
  private final Map<String, AtomicLong> lastSeen = new ConcurrentHashMap<>();
  private final Map<String, Set<Long>> seen = new ConcurrentHashMap<>();
  private final List<LocalProcess> inboxes = new ArrayList<>();
  private final AtomicLong sends = new AtomicLong();
  private final AtomicLong calls = new AtomicLong();
  private volatile boolean stopped;

  MailWorkload(List<RegistryNode> nodes, String name) {
    List<Registry<byte[]>> registries = new ArrayList<>();
    for (RegistryNode node : nodes) {
      Registry<byte[]> registry = node.registry(name);
      registries.add(registry);
      LocalProcess inbox = node.spawn((self, mail) -> receive(mail));
      registry.register("inbox-" + node.nodeId(), inbox);
      inboxes.add(inbox);
    }
    for (int n = 0; n < nodes.size(); n++) {
      RegistryNode node = nodes.get(n);
      Registry<byte[]> registry = registries.get(n);
      String to = "inbox-" + nodes.get((n + 1) % nodes.size()).nodeId();
      String sender = node.nodeId();
      accepted.put(sender, ConcurrentHashMap.newKeySet());
      Thread t = new Thread(() -> sendLoop(node, registry, sender, to), "workload-mail-" + sender);
      t.setDaemon(true);
      threads.add(t);
    }
    threads.forEach(Thread::start);
  }

  private void receive(io.roster.Mail mail) {
    String[] parts = new String(mail.body(), StandardCharsets.UTF_8).split(" ", 2);
    String sender = parts[0];
    long n = Long.parseLong(parts[1]);
    AtomicLong last = lastSeen.computeIfAbsent(sender, s -> new AtomicLong()); // a handler runs one mail at a time
    long before = last.get();
    if (n > before) {
      last.set(n);
    } else {
      violations.add("from " + sender + ": message " + n + " arrived after message " + before
          + (n == before ? " (a duplicate)" : " (out of order)"));
    }
    seen.computeIfAbsent(sender, s -> ConcurrentHashMap.newKeySet()).add(n);
    if (mail.isCall()) {
      mail.reply(mail.body());
    }
  }

  private void sendLoop(RegistryNode node, Registry<byte[]> registry, String sender, String to) {
    Pid inbox = Awaitility.await(to + " registered").atMost(Duration.ofSeconds(60))
        .until(() -> registry.whereis(to), p -> p != null);
    long n = 0;
    while (!stopped) {
      n++;
      byte[] message = (sender + " " + n).getBytes(StandardCharsets.UTF_8);
      try {
        if (n % 10 == 0) {
          calls.incrementAndGet();
          try {
            node.call(inbox, message, Duration.ofSeconds(5));
            accepted.get(sender).add(n);
          } catch (CallException e) {
            if (e.reason() == CallException.Reason.TIMEOUT) {
              accepted.get(sender).add(n); // queued: it must still arrive, in order
            }
          }
        } else if (node.send(inbox, message)) {
          sends.incrementAndGet();
          accepted.get(sender).add(n);
        }
      } catch (LimitExceededException full) {
        n--; // backpressure: not queued; the same number again
        LockSupport.parkNanos(10_000_000);
      } catch (RosterException e) {
        // refused at once: it may or may not arrive
      }
      LockSupport.parkNanos(25_000_000); // about 40 a second: enough to see order, light on the 2 cores
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
    try {
      Awaitility.await("every accepted message delivered").atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50)).until(() -> missing().isEmpty());
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      missing().forEach((sender, lost) -> violations.add("from " + sender + ": " + lost.size()
          + " accepted messages never arrived, the first " + lost.stream().sorted().limit(5).toList()));
    }
    inboxes.forEach(LocalProcess::close);
    return List.copyOf(violations);
  }

  private Map<String, List<Long>> missing() {
    Map<String, List<Long>> out = new java.util.TreeMap<>();
    accepted.forEach((sender, numbers) -> {
      Set<Long> got = seen.getOrDefault(sender, Set.of());
      List<Long> lost = numbers.stream().filter(x -> !got.contains(x)).toList();
      if (!lost.isEmpty()) {
        out.put(sender, lost);
      }
    });
    return out;
  }

  @Override
  public Map<String, Long> counts() {
    return Map.of("messages sent", sends.get(), "calls", calls.get());
  }
}
