package io.roster.server;

import io.roster.testkit.LocalCluster;
import io.roster.LocalProcess;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.RegistryUnavailableException;
import io.roster.internal.node.Node;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The story {@code roster demo} tells: a 3-voter cluster in this JVM, names registered from every
 * node, local and linearizable lookups, a leader killed and a new one elected, a dead node's names
 * expiring, a voter restarted from disk, and a client node. Everything it starts, it stops.
 */
final class DemoRun {
  static final Duration SESSION_TIMEOUT = Duration.ofSeconds(3);
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);
  static final Duration WAIT_MAX = Duration.ofSeconds(60);
  static final String REGISTRY = "services";

  private final PrintStream out;

  DemoRun(PrintStream out) {
    this.out = out;
  }

  int run() throws Exception {
    Path data = Files.createTempDirectory("roster-demo-");
    out.println("Roster demo: a 3-node registry cluster in this JVM, Raft over gRPC on 127.0.0.1");
    out.println("data: " + data);
    out.println();
    LocalCluster cluster = null;
    try {
      long t0 = System.nanoTime();
      out.print("[1] starting voters n1, n2, n3 ");
      cluster = LocalCluster.start(data, 3, SESSION_TIMEOUT, REQUEST_TIMEOUT);
      LocalCluster c = cluster;
      waitFor(() -> c.nodes().stream().allMatch(n -> n.ready().isDone()) ? Boolean.TRUE : null);
      Node leader = waitFor(c::leader);
      out.printf(" ready in %.1f s; leader: %s%n", seconds(t0), leader.nodeId());
      out.println("    mutual TLS on every port: a CA made for this run in " + c.tlsDir()
          + ", one certificate per node (CN = node id)");
      out.println("    members: " + leader.members().stream().map(m -> m.nodeId()).toList());
      out.println();

      out.println("[2] registering processes from every node (registry \"" + REGISTRY + "\", unique keys)");
      Map<String, String> homes = new LinkedHashMap<>();
      homes.put("billing", "n1");
      homes.put("search", "n2");
      homes.put("mailer", "n3");
      Map<String, LocalProcess> processes = new LinkedHashMap<>();
      for (Map.Entry<String, String> e : homes.entrySet()) {
        Node node = c.node(e.getValue());
        LocalProcess p = node.spawn();
        long revision = node.registry(REGISTRY).register(e.getKey(), p, ("home=" + node.nodeId()).getBytes());
        processes.put(e.getKey(), p);
        out.printf("    %s  register(%-8s) -> %s  revision %d%n", node.nodeId(), e.getKey(), p.pid(), revision);
      }
      try {
        c.node("n3").registry(REGISTRY).register("billing", c.node("n3").spawn());
      } catch (io.roster.AlreadyRegisteredException taken) {
        out.println("    n3  register(billing ) -> already registered to " + taken.owner());
      }
      out.println();

      out.println("[3] whereis on every node: the local mirror, no network hop");
      for (Node node : c.nodes()) {
        Registry<byte[]> r = node.registry(REGISTRY);
        waitFor(() -> homes.keySet().stream().allMatch(k -> r.whereis(k) != null) ? Boolean.TRUE : null);
        StringBuilder line = new StringBuilder("    " + node.nodeId() + " ");
        for (String key : homes.keySet()) {
          line.append(String.format(" %s=%s", key, r.whereis(key)));
        }
        out.println(line.append(String.format("   (%.0f ns per lookup)", nanosPerWhereis(r, homes.keySet()))));
      }
      out.println("    whereisConsistent: a ReadIndex barrier from the leader, then the local mirror");
      for (Node node : c.nodes()) {
        long start = System.nanoTime();
        Pid owner = node.registry(REGISTRY).whereisConsistent("mailer");
        out.printf("    %s  whereisConsistent(mailer) = %s  in %.1f ms%n", node.nodeId(), owner, millis(start));
      }
      out.println();

      Node oldLeader = waitFor(c::leader);
      Node writer = c.nodes().stream().filter(n -> n != oldLeader).findFirst().orElseThrow();
      out.println("[4] killing the leader " + oldLeader.nodeId() + " (no goodbye, as a crash)");
      long killed = System.nanoTime();
      c.crash(oldLeader.nodeId());
      LocalProcess survivor = writer.spawn();
      out.print("    writing from " + writer.nodeId() + " until a new leader commits ");
      Long revision = waitFor(() -> {
        try {
          return writer.registry(REGISTRY).register("after-failover", survivor);
        } catch (RegistryUnavailableException e) {
          return null;
        }
      });
      double gap = seconds(killed);
      Node newLeader = waitFor(c::leader);
      out.printf("%n    new leader: %s; first write committed %.2f s after the kill (revision %d)%n",
          newLeader.nodeId(), gap, revision);
      String lost = homes.entrySet().stream().filter(e -> e.getValue().equals(oldLeader.nodeId()))
          .map(Map.Entry::getKey).findFirst().orElseThrow();
      Registry<byte[]> onNew = newLeader.registry(REGISTRY);
      out.printf("    %s's process still holds '%s' until its session expires (timeout %d s)%n",
          oldLeader.nodeId(), lost, SESSION_TIMEOUT.toSeconds());
      out.print("    waiting for the new leader to expire " + oldLeader.nodeId() + "'s session ");
      waitFor(() -> onNew.whereisConsistent(lost) == null ? Boolean.TRUE : null);
      out.printf("%n    '%s' removed %.1f s after the kill; the others remain:", lost, seconds(killed));
      for (String key : homes.keySet()) {
        if (!key.equals(lost)) {
          out.printf(" %s=%s", key, onNew.whereisConsistent(key));
        }
      }
      out.println();
      out.println();

      out.print("[5] restarting " + oldLeader.nodeId() + " from its data directory ");
      long restart = System.nanoTime();
      Node back = c.startVoter(oldLeader.nodeId());
      Registry<byte[]> onBack = back.registry(REGISTRY);
      waitFor(() -> survivor.pid().equals(onBack.whereis("after-failover")) ? Boolean.TRUE : null);
      out.printf(" back in %.1f s with a new incarnation (%d); it sees after-failover=%s%n", seconds(restart),
          back.incarnation(), onBack.whereis("after-failover"));
      out.println();

      out.println("[6] a client node c1 joins: not a Raft member, its mirror follows a voter's change stream");
      Node client = c.startClient("c1");
      waitFor(() -> client.ready().isDone() ? Boolean.TRUE : null);
      LocalProcess cache = client.spawn((self, mail) -> {
        if (mail.isCall()) { // answers calls from any node
          mail.reply(("c1 has " + new String(mail.body(), java.nio.charset.StandardCharsets.UTF_8))
              .getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
      });
      Registry<byte[]> onClient = client.registry(REGISTRY);
      onClient.register("cache", cache);
      String kept = homes.keySet().stream().filter(k -> !k.equals(lost)).findFirst().orElseThrow();
      out.printf("    c1  register(cache) -> %s; c1 whereis(%s) = %s (local)%n", cache.pid(), kept,
          waitFor(() -> onClient.whereis(kept)));
      Registry<byte[]> onN3 = c.node("n3").registry(REGISTRY);
      out.printf("    n3  whereisConsistent(cache) = %s%n", onN3.whereisConsistent("cache"));
      long called = System.nanoTime();
      byte[] answer = onN3.call("cache", "user:42".getBytes(java.nio.charset.StandardCharsets.UTF_8),
          REQUEST_TIMEOUT);
      out.printf("    n3  call(cache, \"user:42\") -> \"%s\" in %.1f ms (a message to c1's process and back)%n",
          new String(answer, java.nio.charset.StandardCharsets.UTF_8), millis(called));
      out.print("    killing c1 without goodbye; waiting for its session to expire ");
      long clientKilled = System.nanoTime();
      c.crash("c1");
      waitFor(() -> onN3.whereisConsistent("cache") == null ? Boolean.TRUE : null);
      out.printf("%n    'cache' removed %.1f s after the crash (the leader counts from c1's last heartbeat); %s=%s%n",
          seconds(clientKilled), kept,
          onN3.whereisConsistent(kept));
      out.println();

      out.println("[7] stopping the cluster");
      cluster.close();
      cluster = null;
      out.println("done: every node stopped.");
      return 0;
    } finally {
      if (cluster != null) {
        cluster.close();
      }
      LocalCluster.deleteTree(data);
    }
  }

  /** Polls until {@code probe} gives a value, printing a dot every 200 ms; fails after a minute. */
  private <T> T waitFor(Supplier<T> probe) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT_MAX.toNanos();
    long nextDot = System.nanoTime();
    while (System.nanoTime() < deadline) {
      T value = probe.get();
      if (value != null) {
        return value;
      }
      if (System.nanoTime() >= nextDot) {
        out.print('.');
        out.flush();
        nextDot = System.nanoTime() + 200_000_000L;
      }
      Thread.sleep(20);
    }
    throw new IllegalStateException("gave up waiting after " + WAIT_MAX.toSeconds() + " s");
  }

  private static double nanosPerWhereis(Registry<byte[]> r, java.util.Collection<String> keys) {
    List<String> ks = List.copyOf(keys);
    int rounds = 300_000;
    long sink = 0;
    for (int i = 0; i < rounds; i++) { // warm up
      sink += r.whereis(ks.get(i % ks.size())).serial();
    }
    long start = System.nanoTime();
    for (int i = 0; i < rounds; i++) {
      sink += r.whereis(ks.get(i % ks.size())).serial();
    }
    long took = System.nanoTime() - start;
    return sink == 42 ? 0 : (double) took / rounds;
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  private static double millis(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e6;
  }
}
