package io.roster.server;

import io.roster.RegistryNode;
import io.roster.Role;
import io.roster.RosterException;
import io.roster.internal.Node;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A cluster of nodes in this JVM on 127.0.0.1: voters with data under {@code root}, plus any
 * client nodes. Ports are probed free and a bind failure (another process took the port in
 * between) restarts the voters on new ports. Closing it stops every node it started.
 */
public final class LocalCluster implements AutoCloseable {
  private static final int START_ATTEMPTS = 5;

  private final Path root;
  private final Duration sessionTimeout;
  private final Duration requestTimeout;
  private final Map<String, String> voters;
  private final Map<String, Node> nodes = new LinkedHashMap<>();

  private LocalCluster(Path root, Map<String, String> voters, Duration sessionTimeout, Duration requestTimeout) {
    this.root = root;
    this.voters = voters;
    this.sessionTimeout = sessionTimeout;
    this.requestTimeout = requestTimeout;
  }

  /** Starts {@code size} voters named n1..nN, each with data under {@code root/nI}. */
  public static LocalCluster start(Path root, int size, Duration sessionTimeout, Duration requestTimeout) {
    RosterException last = null;
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      Map<String, String> voters = new LinkedHashMap<>();
      for (int i = 1; i <= size; i++) {
        voters.put("n" + i, "127.0.0.1:" + freePort());
      }
      LocalCluster cluster = new LocalCluster(root, voters, sessionTimeout, requestTimeout);
      try {
        for (String id : voters.keySet()) {
          cluster.startVoter(id);
        }
        return cluster;
      } catch (RosterException e) {
        cluster.close();
        if (!String.valueOf(e.getMessage()).contains("Address already in use")) {
          throw e; // a port probed free was taken before the node bound it: try other ports
        }
        last = e;
      }
    }
    throw last;
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private RegistryNode.Builder builder(String id) {
    RegistryNode.Builder b = RegistryNode.builder().nodeId(id).sessionTimeout(sessionTimeout)
        .requestTimeout(requestTimeout);
    voters.forEach(b::voter);
    return b;
  }

  /** Starts (or restarts, from its data) the voter {@code id}. */
  public Node startVoter(String id) {
    Node node = (Node) builder(id).role(Role.VOTER).listenAddress(voters.get(id)).dataDir(root.resolve(id)).start();
    nodes.put(id, node);
    return node;
  }

  /** Starts a client node {@code id}. */
  public Node startClient(String id) {
    Node node = (Node) builder(id).role(Role.CLIENT).start();
    nodes.put(id, node);
    return node;
  }

  public Node node(String id) {
    return nodes.get(id);
  }

  public List<Node> nodes() {
    return new ArrayList<>(nodes.values());
  }

  public Map<String, String> voters() {
    return voters;
  }

  /** Waits until every running node has an open session. */
  public void awaitReady(Duration timeout) {
    for (Node n : nodes.values()) {
      try {
        n.ready().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        throw new RosterException("node " + n.nodeId() + " is not ready after " + timeout + ": " + e, e);
      }
    }
  }

  /** The node that currently leads, if a running one does. */
  public Node leader() {
    for (Node n : nodes.values()) {
      if (n.leader().map(n.nodeId()::equals).orElse(false)) {
        return n;
      }
    }
    return null;
  }

  /** Stops a node as a crash would: no goodbye, so the leader expires its session. */
  public void crash(String id) {
    Node n = nodes.remove(id);
    if (n != null) {
      n.crash();
    }
  }

  /** Stops a node cleanly: its session ends at once. */
  public void stop(String id) {
    Node n = nodes.remove(id);
    if (n != null) {
      n.close();
    }
  }

  @Override
  public void close() {
    for (String id : new ArrayList<>(nodes.keySet())) {
      crash(id); // no goodbyes: the cluster is going away as a whole
    }
  }

  /** Deletes a directory tree (the demo's temp data). */
  public static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
