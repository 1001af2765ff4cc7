package io.roster.bench;

import io.roster.Consistency;
import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.Role;
import io.roster.Tls;
import io.roster.testkit.CertificateAuthority;
import io.roster.testkit.LocalCluster;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A closed-loop load generator: {@code in-flight} workers each issue one operation, wait for it,
 * and issue the next, for a warm-up and then a measured period; latencies go to HdrHistogram.
 * Against a 3-voter cluster in this JVM, or 3 voter processes on loopback reached through a client
 * node in this JVM. Writes are durable as shipped (Raft log fsync, majority commit).
 */
@Command(name = "load", mixinStandardHelpOptions = true, description = "Closed-loop load against a Roster cluster.")
public final class Load implements Callable<Integer> {
  @Option(names = "--workload", split = ",", defaultValue = "register,churn,consistent-read,mixed",
      description = "register, churn, consistent-read, mixed (default: ${DEFAULT-VALUE})")
  List<String> workloads;

  @Option(names = "--in-flight", split = ",", defaultValue = "1,16,64,256",
      description = "Concurrent operations (default: ${DEFAULT-VALUE})")
  List<Integer> inFlight;

  @Option(names = "--duration", defaultValue = "PT10S", description = "Measured time per point (default: ${DEFAULT-VALUE})")
  Duration duration;

  @Option(names = "--warmup", defaultValue = "PT3S", description = "Warm-up per point (default: ${DEFAULT-VALUE})")
  Duration warmup;

  @Option(names = "--cluster", defaultValue = "in-jvm", description = "in-jvm or processes (default: ${DEFAULT-VALUE})")
  String cluster;

  @Option(names = "--roster-jar", defaultValue = "registry-server/target/roster.jar",
      description = "The node jar for --cluster processes (default: ${DEFAULT-VALUE})")
  Path rosterJar;

  @Option(names = "--tls", split = ",", defaultValue = "on",
      description = "on (mutual TLS, the default), off (plaintext), or on,off to run each in turn and compare "
          + "(default: ${DEFAULT-VALUE})")
  List<String> tls;

  @Option(names = "--partitions", split = ",", defaultValue = "1",
      description = "Partitions of the registry written (Raft groups of the same voters, each preferring another "
          + "voter as its leader); a list such as 1,4 measures each in turn (default: ${DEFAULT-VALUE})")
  List<Integer> partitions;

  @Option(names = "--metrics", split = ",", defaultValue = "off",
      description = "With --cluster processes: on gives each node process --http-address (its Micrometer meters, "
          + "Prometheus' registry) and the load's client node a registry too; a list such as on,off measures each "
          + "in turn, to see what the metrics cost (default: ${DEFAULT-VALUE})")
  List<String> metrics;

  @Option(names = "--csv", description = "Also append results to this CSV file")
  Path csv;

  private final PrintStream out = System.out;

  public static void main(String[] args) {
    System.setProperty("roster.log.level", System.getProperty("roster.log.level", "WARN"));
    System.setProperty("roster.ratis.log.level", System.getProperty("roster.ratis.log.level", "OFF"));
    System.exit(new CommandLine(new Load()).execute(args));
  }

  /** The result of one point. */
  public record Point(String system, String workload, int inFlight, double opsPerSecond, double p50Millis,
      double p99Millis, double p999Millis) {
    static final String HEADER = String.format("%-9s %-16s %9s %12s %9s %9s %9s", "system", "workload",
        "in-flight", "ops/s", "p50 ms", "p99 ms", "p99.9 ms");

    String row() {
      return String.format("%-9s %-16s %9d %12.0f %9.2f %9.2f %9.2f", system, workload, inFlight, opsPerSecond,
          p50Millis, p99Millis, p999Millis);
    }

    String csv() {
      return String.format(java.util.Locale.ROOT, "%s,%s,%d,%.1f,%.3f,%.3f,%.3f", system, workload, inFlight, opsPerSecond, p50Millis,
          p99Millis, p999Millis);
    }
  }

  @Override
  public Integer call() throws Exception {
    for (String mode : tls) {
      if (!mode.equals("on") && !mode.equals("off")) {
        throw new IllegalArgumentException("--tls takes on, off or on,off; was " + mode);
      }
    }
    for (String mode : metrics) {
      if (!mode.equals("on") && !mode.equals("off")) {
        throw new IllegalArgumentException("--metrics takes on, off or on,off; was " + mode);
      }
      if (mode.equals("on") && !cluster.equals("processes")) {
        throw new IllegalArgumentException("--metrics on needs --cluster processes");
      }
    }
    for (String mode : tls) {
      for (String m : metrics) {
        metricsOn = m.equals("on");
        int code = runCluster(mode.equals("on"));
        if (code != 0) {
          return code;
        }
      }
    }
    return 0;
  }

  /** Whether the cluster being measured publishes metrics (see --metrics). */
  private boolean metricsOn;

  private int runCluster(boolean tlsOn) throws Exception {
    Path data = Files.createTempDirectory("roster-load-");
    List<Process> processes = new ArrayList<>();
    LocalCluster local = null;
    List<RegistryNode> nodes = new ArrayList<>();
    try {
      if (cluster.equals("in-jvm")) {
        local = LocalCluster.start(data, 3, Duration.ofSeconds(5), Duration.ofSeconds(10), tlsOn);
        local.awaitReady(Duration.ofSeconds(60));
        nodes.addAll(local.nodes());
      } else if (cluster.equals("processes")) {
        nodes.add(startProcesses(data, processes, tlsOn));
      } else {
        throw new IllegalArgumentException("--cluster must be in-jvm or processes");
      }
      out.printf("cluster: %s, %s, metrics %s, %d cores; %s warm-up, %s measured per point%n", cluster,
          tlsOn ? "mutual TLS" : "plaintext (insecure)", metricsOn ? "on" : "off",
          Runtime.getRuntime().availableProcessors(), warmup, duration);
      out.println(Point.HEADER);
      for (int parts : partitions) {
        for (String workload : workloads) {
          for (int n : inFlight) {
            String system = (tlsOn ? "roster" : "roster-pt") + (parts > 1 ? "-p" + parts : "") + (metricsOn ? "-m" : "");
            Point p = run(system, workload, n, parts, nodes);
            out.println(p.row());
            if (csv != null) {
              Files.writeString(csv, p.csv() + System.lineSeparator(), java.nio.file.StandardOpenOption.CREATE,
                  java.nio.file.StandardOpenOption.APPEND);
            }
          }
        }
      }
      return 0;
    } finally {
      for (RegistryNode n : nodes) {
        if (local == null) {
          n.close();
        }
      }
      if (local != null) {
        local.close();
      }
      for (Process p : processes) {
        p.destroy();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      }
      LocalCluster.deleteTree(data);
    }
  }

  /** Starts 3 voter processes and returns a client node of this JVM connected to them. */
  public RegistryNode startProcesses(Path data, List<Process> processes, boolean tlsOn) throws Exception {
    if (!Files.exists(rosterJar)) {
      throw new IllegalArgumentException(rosterJar + " is missing: run mvn -B -DskipTests package first");
    }
    Map<String, String> voters = new LinkedHashMap<>();
    List<Integer> ports = io.roster.testkit.LocalCluster.freePorts(metricsOn ? 6 : 3);
    for (int i = 1; i <= 3; i++) {
      voters.put("n" + i, "127.0.0.1:" + ports.get(i - 1));
    }
    String votersArg = String.join(",", voters.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList());
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Path tlsDir = data.resolve("tls");
    io.roster.testkit.CertificateAuthority ca = io.roster.testkit.CertificateAuthority.create("load CA", Duration.ofDays(1));
    ca.save(tlsDir);
    for (String id : voters.keySet()) {
      List<String> command = new ArrayList<>(List.of(java, "-Xmx1g", "-Droster.log.level=WARN"));
      // extra options for the node JVMs, e.g. a flight recording: -Droster.bench.nodeJvmOptions="-XX:StartFlightRecording=..."
      // ({id} in them becomes the node's id)
      for (String option : System.getProperty("roster.bench.nodeJvmOptions", "").trim().split("\\s+")) {
        if (!option.isEmpty()) {
          command.add(option.replace("{id}", id));
        }
      }
      command.addAll(List.of("-jar", rosterJar.toString(), "node", "--id", id, "--voters", votersArg, "--data",
          data.resolve(id).toString()));
      if (metricsOn) { // the node's meters in Prometheus' registry (not scraped during the run)
        command.addAll(List.of("--http-address", "127.0.0.1:" + ports.get(2 + Integer.parseInt(id.substring(1)))));
      }
      if (tlsOn) {
        CertificateAuthority.Issued issued = ca.issue(id, Tls.CertRole.VOTER, List.of("127.0.0.1"), Duration.ofDays(1));
        issued.save(tlsDir);
        command.addAll(List.of("--tls-cert", issued.certFile(tlsDir).toString(), "--tls-key",
            issued.keyFile(tlsDir).toString(), "--tls-ca", tlsDir.resolve(CertificateAuthority.CA_FILE).toString()));
      } else {
        command.add("--insecure");
      }
      processes.add(new ProcessBuilder(command)
          .redirectErrorStream(true).redirectOutput(data.resolve(id + ".log").toFile()).start());
    }
    // A 15 s session: the three node JVMs start and compile at once on the same cores, and a self-fencing
    // client with 5 s gave up its session during that start in 2 of 4 runs (no leader that had heard a
    // majority answered its heartbeats for 5 s), leaving the run without a session.
    RegistryNode.Builder b = RegistryNode.builder().nodeId("load").role(Role.CLIENT)
        .requestTimeout(Duration.ofSeconds(10)).sessionTimeout(Duration.ofSeconds(15));
    if (tlsOn) {
      // creating a partitioned registry (Raft groups of its own) takes a voter or admin certificate
      Tls.CertRole role = partitions != null && partitions.stream().anyMatch(n -> n > 1) ? Tls.CertRole.ADMIN
          : Tls.CertRole.CLIENT;
      b.tls(ca.issue("load", role, List.of("127.0.0.1"), Duration.ofDays(1)).tls(tlsDir));
    } else {
      b.insecure();
    }
    voters.forEach(b::voter);
    if (metricsOn) {
      b.meterRegistry(new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
    }
    RegistryNode client = b.start();
    client.ready().get(60, TimeUnit.SECONDS);
    return client;
  }

  /** One point: {@code n} closed-loop workers spread over the nodes. */
  public Point run(String system, String workload, int n, int partitions, List<RegistryNode> nodes) throws Exception {
    // a run never meets another run's keys
    Workers workers = workers("load-" + system + "-" + workload + "-" + n, workload, partitions, nodes);
    ClosedLoop.Result r = workers.run(n, warmup, duration);
    if (r.errors() > 0) {
      out.printf("  (%d operations failed during %s at %d in flight)%n", r.errors(), workload, n);
    }
    return new Point(system, workload, n, r.opsPerSecond(), r.percentileMillis(50), r.percentileMillis(99),
        r.percentileMillis(99.9));
  }

  /**
   * A workload's operations on one registry, ready to be run any number of times (a warm-up in windows,
   * then the points): the keys read are registered once; each run's workers are processes of their own,
   * closed (their names with them) when the run ends, and write keys no other run wrote.
   */
  public static Workers workers(String registryName, String workload, List<RegistryNode> nodes) {
    return workers(registryName, workload, 1, nodes);
  }

  /** As {@link #workers(String, String, List)}, on a registry of {@code partitions} partitions. */
  public static Workers workers(String registryName, String workload, int partitions, List<RegistryNode> nodes) {
    if (partitions < 1) {
      throw new IllegalArgumentException("--partitions must be at least 1, was " + partitions);
    }
    List<Registry<byte[]>> registries = new ArrayList<>();
    for (RegistryNode node : nodes) { // the first node creates it
      registries.add(node.registry(registryName, io.roster.Keys.UNIQUE, partitions, io.roster.ValueCodec.bytes()));
    }
    List<String> readKeys = new ArrayList<>();
    if (workload.equals("consistent-read") || workload.equals("mixed")) {
      LocalProcess owner = nodes.get(0).spawn();
      for (int i = 0; i < 1000; i++) {
        readKeys.add("read-" + i);
        registries.get(0).register("read-" + i, owner);
      }
    }
    return new Workers(workload, nodes, registries, List.copyOf(readKeys));
  }

  /** See {@link #workers}. */
  public static final class Workers {
    private final String workload;
    private final List<RegistryNode> nodes;
    private final List<Registry<byte[]>> registries;
    private final List<String> readKeys;
    private int runs;

    private Workers(String workload, List<RegistryNode> nodes, List<Registry<byte[]>> registries,
        List<String> readKeys) {
      this.workload = workload;
      this.nodes = nodes;
      this.registries = registries;
      this.readKeys = readKeys;
    }

    /** One closed-loop run of {@code n} workers. */
    public ClosedLoop.Result run(int n, Duration warmup, Duration duration) throws InterruptedException {
      int run = runs++;
      LocalProcess[] owners = new LocalProcess[n];
      try {
        return ClosedLoop.run(n, warmup, duration, w -> {
          Registry<byte[]> registry = registries.get(w % nodes.size());
          LocalProcess process = nodes.get(w % nodes.size()).spawn();
          owners[w] = process;
          byte[] value = new byte[16];
          String prefix = run + "-" + w + "-";
          return seq -> operate(workload, registry, process, prefix + seq, value, readKeys);
        });
      } finally {
        for (LocalProcess p : owners) {
          if (p != null) {
            p.close();
          }
        }
      }
    }
  }

  private static void operate(String workload, Registry<byte[]> registry, LocalProcess process, String key, byte[] value,
      List<String> readKeys) {
    switch (workload) {
      case "register" -> registry.register(key, process, value);
      case "churn" -> {
        registry.register(key, process, value);
        registry.unregister(key, process).join();
      }
      case "consistent-read" -> registry.whereis(readKeys.get(ThreadLocalRandom.current().nextInt(readKeys.size())),
          Consistency.LINEARIZABLE);
      case "mixed" -> {
        int dice = ThreadLocalRandom.current().nextInt(100);
        String readKey = readKeys.get(ThreadLocalRandom.current().nextInt(readKeys.size()));
        if (dice < 80) {
          registry.whereis(readKey);
        } else if (dice < 95) {
          registry.whereis(readKey, Consistency.LINEARIZABLE);
        } else {
          registry.register(key, process, value);
          registry.unregister(key, process).join();
        }
      }
      default -> throw new IllegalArgumentException("unknown workload " + workload);
    }
  }
}
