package io.roster.faults;

import io.roster.RegistryNode;
import io.roster.Role;
import io.roster.server.Main;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Voters as real {@code roster node} processes, each in a network namespace of its own on a bridge
 * ({@value #NET}.N for voter nN, the test's JVM at {@value #NET}.254), so that faults are real:
 * {@code kill -9}, SIGSTOP and SIGCONT, and nftables drops inside a voter's namespace that cut it
 * from chosen peers while the clients still reach it. Needs root, iproute2 and nftables.
 *
 * <p>{@link #close()} kills every process and deletes the namespaces, the bridge and every rule
 * with them; a run that was killed is cleaned up by the next one ({@link #removeLeftovers()}).
 */
public final class NetCluster implements AutoCloseable {
  static final String NET = "10.231.0";
  static final String BRIDGE = "rf-br0";
  static final String PREFIX = "rf-n";
  static final int PORT = 7100;
  /** The cluster name the voters run with (the default). */
  static final String CLUSTER = "roster";

  private final Path root;
  private final int size;
  private final Map<String, String> voters = new LinkedHashMap<>();
  private final Map<String, Process> processes = new LinkedHashMap<>();
  private final List<String> extraJvmArgs;
  private final Set<String> paused = new java.util.HashSet<>();
  /** Processes started in namespaces of their own besides the voters', by host number. */
  private final Map<Integer, Process> guests = new LinkedHashMap<>();

  private NetCluster(Path root, int size, List<String> extraJvmArgs) {
    this.root = root;
    this.size = size;
    this.extraJvmArgs = extraJvmArgs;
    for (int i = 1; i <= size; i++) {
      voters.put("n" + i, NET + "." + i + ":" + PORT);
    }
  }

  /** Whether this machine can run the suite: root, with {@code ip} and {@code nft}. */
  public static String missing() {
    if (!"root".equals(System.getProperty("user.name"))) {
      return "the fault suite needs root (network namespaces, nftables)";
    }
    for (String tool : List.of("ip", "nft")) {
      if (!onPath(tool)) {
        return "the fault suite needs '" + tool + "' (Debian: apt-get install iproute2 nftables)";
      }
    }
    return null;
  }

  private static boolean onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (Files.isExecutable(Path.of(dir, tool))) {
        return true;
      }
    }
    return Files.isExecutable(Path.of("/usr/sbin", tool)) || Files.isExecutable(Path.of("/sbin", tool));
  }

  /** Makes the network and starts {@code size} voters; their data lives under {@code root}. */
  public static NetCluster start(Path root, int size, List<String> extraJvmArgs) {
    NetCluster c = new NetCluster(root, size, extraJvmArgs);
    try {
      removeLeftovers();
      c.makeNetwork();
      for (String id : c.voters.keySet()) {
        c.startVoter(id);
      }
      return c;
    } catch (RuntimeException e) {
      c.close();
      throw e;
    }
  }

  public Map<String, String> voters() {
    return Map.copyOf(voters);
  }

  public List<String> ids() {
    return List.copyOf(voters.keySet());
  }

  /** A client node in this JVM, reaching the voters over the bridge. */
  public RegistryNode client(String id, Duration sessionTimeout, Duration requestTimeout) {
    RegistryNode.Builder b = RegistryNode.builder().nodeId(id).role(Role.CLIENT).insecure()
        .sessionTimeout(sessionTimeout).requestTimeout(requestTimeout).messageAddress(NET + ".254:0");
    voters.forEach(b::voter);
    return b.start();
  }

  // ---- processes ----

  /**
   * The JVM of a voter or guest process: the quick compiler only and a serial collector. Three voters,
   * the test's JVM and any guest share this 2-core machine; with C2 and G1 the voters spent their
   * first half minute compiling (a third of their CPU) and in 150-200 ms young pauses, vote round trips
   * outgrew the 250-500 ms election timeout, and a group could take 7 s or more to elect after a heal.
   * Further options, e.g. {@code -Droster.faults.voterJvm=-Xlog:gc:file=/tmp/gc-%p.log}, come last
   * (so {@code -XX:TieredStopAtLevel=4} there restores C2).
   */
  private static List<String> java(String heap) {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        heap, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
    String more = System.getProperty("roster.faults.voterJvm", "").trim();
    if (!more.isEmpty()) {
      cmd.addAll(List.of(more.split("\\s+")));
    }
    return cmd;
  }

  public synchronized void startVoter(String id) {
    Process old = processes.get(id);
    if (old != null && old.isAlive()) {
      throw new IllegalStateException(id + " runs");
    }
    List<String> cmd = new ArrayList<>(List.of(ip(), "netns", "exec", PREFIX + id.substring(1)));
    cmd.addAll(java("-Xmx1g"));
    cmd.addAll(extraJvmArgs);
    // Ratis logs at WARN in the voters unless -Droster.faults.voterRatisLog=INFO (their elections)
    cmd.add("-Droster.ratis.log.level=" + System.getProperty("roster.faults.voterRatisLog", "WARN"));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "node", "--id", id,
        "--voters", voters.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
            .collect(Collectors.joining(",")),
        "--data", root.resolve(id).toString(), "--insecure", "--session-timeout", "PT5S"));
    try {
      Files.createDirectories(root);
      Path log = root.resolve(id + ".log");
      processes.put(id, new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start());
    } catch (IOException e) {
      throw new IllegalStateException("cannot start voter " + id + ": " + e, e);
    }
  }

  /** {@code kill -9}. */
  public synchronized void kill(String id) {
    Process p = processes.get(id);
    if (p != null) {
      p.destroyForcibly();
      try {
        p.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  public synchronized void pause(String id) {
    signal(id, "STOP");
    paused.add(id);
  }

  public synchronized void resume(String id) {
    signal(id, "CONT");
    paused.remove(id);
  }

  /**
   * The voter that leads the cluster group now, asked of each running voter (the one that says it
   * leads in the highest term), or null while none does.
   */
  public String leader() {
    org.apache.ratis.protocol.GroupInfoReply info = leaderInfo(io.roster.internal.transport.RatisWiring.groupId(CLUSTER));
    return info == null ? null : info.getServerId().toString();
  }

  /**
   * Waits until every voter runs and has committed what the leader had committed when this began:
   * after a fault heals, the next one waits for this (a voter restarted from disk catches up first).
   */
  public void awaitCaughtUp(Duration timeout) {
    long[] target = {-1};
    org.awaitility.Awaitility.await("every voter caught up").atMost(timeout)
        .pollInterval(Duration.ofMillis(100)).until(() -> {
          org.apache.ratis.protocol.GroupInfoReply info = leaderInfo(io.roster.internal.transport.RatisWiring.groupId(CLUSTER));
          if (info == null || !voters.keySet().stream().allMatch(id -> alive(id) && !paused.contains(id))) {
            return false;
          }
          if (target[0] < 0) {
            target[0] = info.getCommitInfos().stream()
                .filter(ci -> ci.getServer().getId().toStringUtf8().equals(info.getServerId().toString()))
                .mapToLong(ci -> ci.getCommitIndex()).max().orElse(-1);
            return false;
          }
          return info.getCommitInfos().size() == size
              && info.getCommitInfos().stream().allMatch(ci -> ci.getCommitIndex() >= target[0]);
        });
  }

  /** Whether voter {@code id} answers a query about the cluster group now (it runs and its port is open). */
  public boolean answers(String id) {
    org.apache.ratis.protocol.RaftGroupId group = io.roster.internal.transport.RatisWiring.groupId(CLUSTER);
    try (org.apache.ratis.client.RaftClient client = adminClient(group, peers())) {
      client.getGroupManagementApi(org.apache.ratis.protocol.RaftPeerId.valueOf(id)).info(group);
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private List<org.apache.ratis.protocol.RaftPeer> peers() {
    return voters.entrySet().stream()
        .map(e -> org.apache.ratis.protocol.RaftPeer.newBuilder().setId(e.getKey()).setAddress(e.getValue()).build())
        .toList();
  }

  /** A Ratis client for group queries to single voters: one try of at most 1 s each. */
  private static org.apache.ratis.client.RaftClient adminClient(org.apache.ratis.protocol.RaftGroupId group,
      List<org.apache.ratis.protocol.RaftPeer> peers) {
    org.apache.ratis.conf.RaftProperties properties = new org.apache.ratis.conf.RaftProperties();
    org.apache.ratis.client.RaftClientConfigKeys.Rpc.setRequestTimeout(properties,
        org.apache.ratis.util.TimeDuration.valueOf(1, TimeUnit.SECONDS));
    return org.apache.ratis.client.RaftClient.newBuilder()
        .setProperties(properties).setRaftGroup(org.apache.ratis.protocol.RaftGroup.valueOf(group, peers))
        .setRetryPolicy(org.apache.ratis.retry.RetryPolicies.noRetry()).build();
  }

  private org.apache.ratis.protocol.GroupInfoReply leaderInfo(org.apache.ratis.protocol.RaftGroupId group) {
    List<org.apache.ratis.protocol.RaftPeer> peers = peers();
    org.apache.ratis.protocol.GroupInfoReply best = null;
    long bestTerm = -1;
    try (org.apache.ratis.client.RaftClient client = adminClient(group, peers)) {
      for (org.apache.ratis.protocol.RaftPeer peer : peers) {
        String id = peer.getId().toString();
        synchronized (this) {
          if (!alive(id) || paused.contains(id)) {
            continue;
          }
        }
        try {
          org.apache.ratis.protocol.GroupInfoReply info = client.getGroupManagementApi(peer.getId()).info(group);
          org.apache.ratis.proto.RaftProtos.RoleInfoProto role = info.getRoleInfoProto();
          if (role.getRole() == org.apache.ratis.proto.RaftProtos.RaftPeerRole.LEADER
              && info.getLogInfoProto() != null && role.getLeaderInfo() != null) {
            long term = info.getLogInfoProto().getLastEntry().getTerm();
            if (term > bestTerm) {
              bestTerm = term;
              best = info;
            }
          }
        } catch (IOException | RuntimeException e) {
          // not reachable now (cut off, starting): not the leader we can use
        }
      }
    } catch (IOException e) {
      return null;
    }
    return best;
  }

  private void signal(String id, String signal) {
    Process p = processes.get(id);
    if (p != null && p.isAlive()) {
      run("kill", "-" + signal, Long.toString(p.pid()));
    }
  }

  public synchronized boolean alive(String id) {
    Process p = processes.get(id);
    return p != null && p.isAlive();
  }

  /** The last lines of a voter's output, for a failure's message. */
  public String tail(String id, int lines) {
    try {
      List<String> all = Files.readAllLines(root.resolve(id + ".log"), StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /**
   * Starts {@code mainClass} with {@code args} in a JVM of its own, in a namespace of its own at
   * {@value #NET}.{@code host} (11 to 99), its output (with its errors) in {@code <root>/guest-<host>.log}.
   * {@link #isolate(int)} cuts it off; {@link #close()} ends it.
   */
  public synchronized Process startGuest(int host, Class<?> mainClass, List<String> args) {
    if (host < 11 || host > 99 || guests.containsKey(host)) {
      throw new IllegalArgumentException("guest host must be free and in 11..99, was " + host);
    }
    addNamespace(host);
    List<String> cmd = new ArrayList<>(List.of(ip(), "netns", "exec", PREFIX + host));
    cmd.addAll(java("-Xmx512m"));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass.getName()));
    cmd.addAll(args);
    try {
      Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(
          root.resolve("guest-" + host + ".log").toFile())).start();
      guests.put(host, p);
      return p;
    } catch (IOException e) {
      throw new IllegalStateException("cannot start " + mainClass.getSimpleName() + ": " + e, e);
    }
  }

  /** Ends guest {@code host} ({@code kill -9}) and deletes its namespace with its rules. */
  public synchronized void stopGuest(int host) {
    Process p = guests.remove(host);
    if (p != null) {
      runQuietly("kill", "-CONT", Long.toString(p.pid()));
      p.destroyForcibly();
      try {
        p.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      runQuietly(ip(), "netns", "delete", PREFIX + host);
      runQuietly(ip(), "link", "delete", "rf-v" + host);
    }
  }

  /** The address of guest {@code host}. */
  static String guestAddress(int host) {
    return NET + "." + host;
  }

  /** Guest {@code host} drops every packet it sends to a voter: cut off from the cluster. */
  public void isolate(int host) {
    StringBuilder rules = new StringBuilder();
    for (String peer : voters.keySet()) {
      rules.append("add rule inet roster_faults out ip daddr ").append(address(peer)).append(" drop\n");
    }
    run(List.of(ip(), "netns", "exec", PREFIX + host, "nft", "-f", "-"), rules.toString());
  }

  /** SIGSTOP or SIGCONT to guest {@code host}. */
  public synchronized void signalGuest(int host, String signal) {
    Process p = guests.get(host);
    if (p != null && p.isAlive()) {
      run("kill", "-" + signal, Long.toString(p.pid()));
    }
  }

  /** The voters as {@code id=host:port,...}. */
  public String votersArgument() {
    return voters.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
  }

  // ---- the network ----

  /**
   * Voter {@code from} drops every packet it sends to each of {@code to}: a one-way cut (TCP then
   * fails both ways for connections between them, but {@code to}'s packets still arrive).
   */
  public void drop(String from, Set<String> to) {
    StringBuilder rules = new StringBuilder();
    for (String peer : to) {
      rules.append("add rule inet roster_faults out ip daddr ").append(address(peer)).append(" drop\n");
    }
    nft(from, rules.toString());
  }

  /** Cuts {@code a} and {@code b} apart both ways; the clients still reach both. */
  public void cut(Set<String> a, Set<String> b) {
    for (String x : a) {
      drop(x, b);
    }
    for (String y : b) {
      drop(y, a);
    }
  }

  /** Removes every drop rule. */
  public void heal() {
    for (String id : voters.keySet()) {
      run(ip(), "netns", "exec", ns(id), "nft", "flush", "chain", "inet", "roster_faults", "out");
    }
  }

  private void nft(String id, String rules) {
    run(List.of(ip(), "netns", "exec", ns(id), "nft", "-f", "-"), rules);
  }

  private String address(String id) {
    return voters.get(id).split(":")[0];
  }

  private static String ns(String id) {
    return PREFIX + id.substring(1);
  }

  private void makeNetwork() {
    run(ip(), "link", "add", BRIDGE, "type", "bridge");
    run(ip(), "addr", "add", NET + ".254/24", "dev", BRIDGE);
    run(ip(), "link", "set", BRIDGE, "up");
    for (String id : voters.keySet()) {
      addNamespace(Integer.parseInt(id.substring(1)));
    }
  }

  /** Namespace {@code rf-n<host>} at {@value #NET}.{@code host} on the bridge, with an empty drop chain. */
  private static void addNamespace(int host) {
    String ns = PREFIX + host;
    run(ip(), "netns", "add", ns);
    run(ip(), "link", "add", "rf-v" + host, "type", "veth", "peer", "name", "eth0", "netns", ns);
    run(ip(), "link", "set", "rf-v" + host, "master", BRIDGE, "up");
    run(ip(), "-n", ns, "addr", "add", NET + "." + host + "/24", "dev", "eth0");
    run(ip(), "-n", ns, "link", "set", "eth0", "up");
    run(ip(), "-n", ns, "link", "set", "lo", "up");
    run(List.of(ip(), "netns", "exec", ns, "nft", "-f", "-"),
        "add table inet roster_faults\nadd chain inet roster_faults out { type filter hook output priority 0; }\n");
  }

  /** Deletes the namespaces and the bridge a killed run left behind. */
  static void removeLeftovers() {
    String list = runQuietly(ip(), "netns", "list");
    for (String line : list.split("\n")) {
      String name = line.split(" ")[0].trim();
      if (name.startsWith(PREFIX)) {
        // a killed run's voters may still live in it (perhaps stopped): end them before the namespace
        for (String pid : runQuietly(ip(), "netns", "pids", name).split("\\s+")) {
          if (pid.matches("[0-9]+")) {
            runQuietly("kill", "-CONT", pid);
            runQuietly("kill", "-KILL", pid);
          }
        }
        runQuietly(ip(), "netns", "delete", name);
      }
    }
    deleteVeths();
    runQuietly(ip(), "link", "delete", BRIDGE);
  }

  /**
   * Deletes the bridge's ends of the namespaces' links: the kernel may keep a deleted namespace,
   * and the link into it, a while after its last process ended.
   */
  private static void deleteVeths() {
    for (String line : runQuietly(ip(), "-o", "link", "show").split("\n")) {
      String[] fields = line.split(":\\s*|@", 3);
      if (fields.length > 1 && fields[1].trim().startsWith("rf-v")) {
        runQuietly(ip(), "link", "delete", fields[1].trim());
      }
    }
  }

  @Override
  public synchronized void close() {
    for (Process p : guests.values()) {
      runQuietly("kill", "-CONT", Long.toString(p.pid()));
      p.destroyForcibly();
    }
    for (Process p : processes.values()) {
      if (p.isAlive()) {
        runQuietly("kill", "-CONT", Long.toString(p.pid())); // a paused one dies only once resumed
        p.destroyForcibly();
      }
    }
    for (Process p : processes.values()) {
      try {
        p.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (Process p : guests.values()) {
      try {
        p.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (String id : voters.keySet()) {
      runQuietly(ip(), "netns", "delete", ns(id));
    }
    for (int host : guests.keySet()) {
      runQuietly(ip(), "netns", "delete", PREFIX + host);
    }
    deleteVeths();
    runQuietly(ip(), "link", "delete", BRIDGE);
  }

  private static String ip() {
    return Files.isExecutable(Path.of("/usr/sbin/ip")) ? "/usr/sbin/ip" : "ip";
  }

  private static void run(String... command) {
    run(List.of(command), null);
  }

  private static void run(List<String> command, String input) {
    String out = exec(command, input);
    if (out.startsWith("!")) {
      throw new IllegalStateException(String.join(" ", command) + " failed: " + out.substring(1));
    }
  }

  private static String runQuietly(String... command) {
    String out = exec(List.of(command), null);
    return out.startsWith("!") ? "" : out;
  }

  /** Runs a command; its output, or "!" and its output when it failed. */
  private static String exec(List<String> command, String input) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      if (input != null) {
        p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
      }
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return "!timed out";
      }
      return p.exitValue() == 0 ? out : "!" + out.trim();
    } catch (IOException e) {
      return "!" + e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "!interrupted";
    }
  }
}
