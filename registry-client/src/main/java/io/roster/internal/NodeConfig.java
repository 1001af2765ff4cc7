package io.roster.internal;

import io.roster.NodeListener;
import io.roster.Pid;
import io.roster.Role;
import io.roster.Tls;
import io.roster.schema.Session;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Pattern;

/** A node's validated configuration. Every problem is an IllegalArgumentException naming the setting. */
public record NodeConfig(
    String nodeId,
    String listenAddress,
    Map<String, String> voters,
    Path dataDir,
    Role role,
    String cluster,
    Duration sessionTimeout,
    Duration requestTimeout,
    NodeListener listener,
    Batching batching,
    String messageAddress,
    Tls tls,
    boolean insecure,
    int processesMax,
    boolean selfFencing,
    io.micrometer.core.instrument.MeterRegistry meters,
    boolean joining) {

  /** Group commit settings, validated by {@link BatchSettings}. */
  public record Batching(int commandsMax, int bytesMax, long lingerNanos) {
    public BatchSettings settings() {
      return new BatchSettings(commandsMax, bytesMax, lingerNanos, BatchSettings.DEFAULT.queueMax());
    }
  }

  private static final Pattern HOST_PORT = Pattern.compile("[A-Za-z0-9.\\-]+:(\\d{1,5})|\\[[0-9A-Fa-f:.]+]:(\\d{1,5})");
  static final Duration REQUEST_TIMEOUT_MIN = Duration.ofMillis(100);
  static final Duration REQUEST_TIMEOUT_MAX = Duration.ofMinutes(10);

  public NodeConfig {
    require(nodeId != null, "nodeId is required");
    String problem = Pid.problem(nodeId, 1, 1);
    require(problem == null, "nodeId: " + problem);
    require(cluster != null && !cluster.isEmpty() && cluster.length() <= 64, "cluster name must be 1..64 characters");
    require(voters != null && !voters.isEmpty(), "at least one voter is required (voter(id, host:port))");
    require(voters.size() <= 9, "at most 9 voters, was " + voters.size());
    Map<String, String> byAddress = new java.util.HashMap<>();
    voters.forEach((id, address) -> {
      String p = Pid.problem(id, 1, 1);
      require(p == null, "voter id '" + id + "': " + p);
      requireHostPort(address, "voter " + id);
      String other = byAddress.putIfAbsent(address.toLowerCase(java.util.Locale.ROOT), id);
      require(other == null, "voters " + (other == null || other.compareTo(id) < 0 ? other + " and " + id
          : id + " and " + other) + " are both at " + address);
    });
    require(role != null, "role is required");
    if (role == Role.VOTER) {
      require(listenAddress != null, "a voter needs listenAddress");
      require(voters.containsKey(nodeId), "voter " + nodeId + " is not in the voters " + voters.keySet());
      require(voters.get(nodeId).equals(listenAddress), "voter " + nodeId + " listens on " + listenAddress
          + " but the voters list it at " + voters.get(nodeId));
      require(dataDir != null, "a voter needs dataDir");
    } else {
      require(!voters.containsKey(nodeId), "client " + nodeId + " must not be one of the voters");
    }
    if (listenAddress != null) {
      requireHostPort(listenAddress, "listenAddress");
    }
    require(sessionTimeout != null && sessionTimeout.toMillis() >= Session.TIMEOUT_MILLIS_MIN
        && sessionTimeout.toMillis() <= Session.TIMEOUT_MILLIS_MAX,
        "sessionTimeout must be 1s..60s, was " + sessionTimeout);
    require(requestTimeout != null && requestTimeout.compareTo(REQUEST_TIMEOUT_MIN) >= 0
        && requestTimeout.compareTo(REQUEST_TIMEOUT_MAX) <= 0,
        "requestTimeout must be 100ms..10min, was " + requestTimeout);
    if (messageAddress == null) {
      messageAddress = (listenAddress != null ? hostOf(listenAddress) : "127.0.0.1") + ":0";
    }
    var m = HOST_PORT.matcher(messageAddress);
    require(m.matches() && Integer.parseInt(m.group(1) != null ? m.group(1) : m.group(2)) <= 65535,
        "messageAddress: expected host:port (port 0..65535, 0 for any free one), was '" + messageAddress + "'");
    String messageHost = host(messageAddress);
    require(!messageHost.equals("0.0.0.0") && !messageHost.equals("::"),
        "messageAddress: the host is published for other nodes to connect to; give one they can reach, not "
            + messageHost);
    require(listener != null, "listener is required");
    require(batching != null, "batching is required");
    batching.settings(); // throws IllegalArgumentException naming the bad setting
    require(tls != null || insecure, "TLS is required: give tls(...) with this node's certificate, its key and "
        + "the cluster's CA (roster cert makes them), or choose insecure() to run in plaintext on a trusted network");
    require(tls == null || !insecure, "both tls(...) and insecure() are given: choose one");
    require(processesMax >= 1 && processesMax <= (1 << 24), "processesMax must be 1..16777216, was " + processesMax);
    require(!joining || role == Role.VOTER, "joining is for a voter (a client node joins by opening its session)");
    require(!joining || voters.size() > 1, "a joining voter needs the running cluster's voters besides itself, was "
        + voters.keySet());
  }

  private static void requireHostPort(String address, String what) {
    var m = HOST_PORT.matcher(address == null ? "" : address);
    require(m.matches(), what + ": expected host:port, was '" + address + "'");
    int port = Integer.parseInt(m.group(1) != null ? m.group(1) : m.group(2));
    require(port >= 1 && port <= 65535, what + ": port must be 1..65535, was " + port);
  }

  public static int port(String hostPort) {
    return Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
  }

  /** The host part as written (IPv6 in brackets). */
  private static String hostOf(String hostPort) {
    return hostPort.substring(0, hostPort.lastIndexOf(':'));
  }

  public static String host(String hostPort) {
    String host = hostPort.substring(0, hostPort.lastIndexOf(':'));
    return host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
  }

  private static void require(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException(message);
    }
  }
}
