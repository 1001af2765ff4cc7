package io.roster.bench;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.Lease;
import io.etcd.jetcd.options.PutOption;
import io.roster.RegistryNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Roster, etcd and ZooKeeper under the same closed loop, same machine, same in-flight counts:
 * registration (Roster register with a value; etcd lease grant + put with the lease; ZooKeeper
 * ephemeral create) and consistent reads (Roster whereisConsistent; etcd linearizable get;
 * ZooKeeper sync + getData). Each system runs as 3 members on 127.0.0.1, durable as shipped.
 *
 * <p>{@code measure} measures one system (compare.sh runs it once per system, with only that system
 * running) and appends its points to a file; {@code report} prints the table and the summary line
 * from that file and draws the chart. Every operation of every system is warmed by the same rule
 * before its points: closed-loop windows until the last {@code --steady-windows} windows' throughputs
 * are within {@code --steady-within} of each other.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, subcommands = {Compare.Measure.class, Compare.Report.class})
public final class Compare implements Callable<Integer> {
  public static void main(String[] args) {
    System.setProperty("roster.log.level", "WARN");
    System.setProperty("roster.ratis.log.level", "OFF");
    System.exit(new CommandLine(new Compare()).execute(args));
  }

  @Override
  public Integer call() {
    CommandLine.usage(this, System.err);
    return 2;
  }

  /** Measures one system and appends its points (and a comment line per warm-up) to {@code --points}. */
  @Command(name = "measure", mixinStandardHelpOptions = true)
  static final class Measure implements Callable<Integer> {
    @Option(names = "--system", required = true, description = "etcd, zookeeper or roster")
    String system;

    @Option(names = "--etcd", split = ",", description = "etcd client URLs")
    List<String> etcd;

    @Option(names = "--zk", description = "ZooKeeper connect string")
    String zk;

    @Option(names = "--roster-jar", defaultValue = "registry-server/target/roster.jar")
    Path rosterJar;

    @Option(names = "--in-flight", split = ",", defaultValue = "1,16,64,256")
    List<Integer> inFlight;

    @Option(names = "--duration", defaultValue = "PT10S", description = "Measured time per point")
    Duration duration;

    @Option(names = "--warmup", defaultValue = "PT3S", description = "Warm-up per point, after the system's warm-up")
    Duration warmup;

    @Option(names = "--warm-in-flight", defaultValue = "64", description = "In-flight operations while warming")
    int warmInFlight;

    @Option(names = "--steady-window", defaultValue = "PT10S", description = "One warm-up window")
    Duration window;

    @Option(names = "--steady-windows", defaultValue = "3", description = "How many successive windows must agree")
    int steadyWindows;

    @Option(names = "--steady-within", defaultValue = "0.05",
        description = "Steady when the agreeing windows' highest throughput is at most this much above their lowest")
    double within;

    @Option(names = "--steady-max", defaultValue = "PT300S", description = "Give up warming after this long")
    Duration steadyMax;

    @Option(names = "--points", required = true, description = "Append the points to this file")
    Path points;

    private final AtomicLong unique = new AtomicLong();

    @Override
    public Integer call() throws Exception {
      if (steadyWindows < 2 || within <= 0 || window.isNegative() || window.isZero()) {
        throw new CommandLine.ParameterException(new CommandLine(this),
            "--steady-windows must be at least 2, --steady-within and --steady-window positive");
      }
      switch (system) {
        case "etcd" -> measureEtcd();
        case "zookeeper" -> measureZooKeeper();
        case "roster" -> measureRoster();
        default -> throw new CommandLine.ParameterException(new CommandLine(this),
            "--system must be etcd, zookeeper or roster; was " + system);
      }
      return 0;
    }

    /** Windows at {@code --warm-in-flight} until the last few agree, or {@code --steady-max} has passed. */
    private void warm(String op, IntFunction<ClosedLoop.Operation> workers) throws Exception {
      warm(op, (n, w, d) -> ClosedLoop.run(n, w, d, workers));
    }

    @FunctionalInterface
    interface Runner {
      ClosedLoop.Result run(int n, Duration warmup, Duration duration) throws Exception;
    }

    private void warm(String op, Runner runner) throws Exception {
      List<Double> rates = new ArrayList<>();
      long start = System.nanoTime();
      boolean steady = false;
      while (!steady && System.nanoTime() - start < steadyMax.toNanos()) {
        rates.add(runner.run(warmInFlight, Duration.ZERO, window).opsPerSecond());
        if (rates.size() >= steadyWindows) {
          List<Double> last = rates.subList(rates.size() - steadyWindows, rates.size());
          double lo = last.stream().mapToDouble(Double::doubleValue).min().orElse(0);
          double hi = last.stream().mapToDouble(Double::doubleValue).max().orElse(0);
          steady = lo > 0 && hi / lo - 1 <= within;
        }
      }
      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
      String line = String.format(Locale.ROOT, "# warm %s %s: %s after %d s at %d in flight, %s windows: %s",
          system, op, steady ? "steady" : "NOT STEADY", seconds, warmInFlight, window,
          rates.stream().map(r -> String.format(Locale.ROOT, "%.0f", r)).toList());
      System.err.println(line);
      append(line);
    }

    private void point(String op, int n, Runner runner) throws Exception {
      ClosedLoop.Result r = runner.run(n, warmup, duration);
      Load.Point p = new Load.Point(system, op, n, r.opsPerSecond(), r.percentileMillis(50), r.percentileMillis(99),
          r.percentileMillis(99.9));
      System.err.println(p.row() + (r.errors() > 0 ? "  (" + r.errors() + " errors)" : ""));
      append(p.csv() + (r.errors() > 0 ? "  # " + r.errors() + " errors" : ""));
    }

    private void point(String op, int n, IntFunction<ClosedLoop.Operation> workers) throws Exception {
      point(op, n, (k, w, d) -> ClosedLoop.run(k, w, d, workers));
    }

    private void append(String line) throws IOException {
      Files.writeString(points, line + System.lineSeparator(), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private static ByteSequence bytes(String s) {
      return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    private void measureEtcd() throws Exception {
      if (etcd == null || etcd.isEmpty()) {
        throw new CommandLine.ParameterException(new CommandLine(this), "--system etcd needs --etcd");
      }
      try (Client client = Client.builder().endpoints(etcd.toArray(new String[0])).build()) {
        KV kv = client.getKVClient();
        Lease lease = client.getLeaseClient();
        ByteSequence value = ByteSequence.from(new byte[16]);
        for (int i = 0; i < 1000; i++) {
          kv.put(bytes("read/" + i), value).get(30, TimeUnit.SECONDS);
        }
        // each run's leases outlive it and are revoked after it, so no expiry runs beside a later run
        java.util.Queue<Long> leases = new java.util.concurrent.ConcurrentLinkedQueue<>();
        IntFunction<ClosedLoop.Operation> grantPut = w -> {
          String prefix = "reg/" + unique.incrementAndGet() + "/";
          return seq -> {
            long id = lease.grant(3600).get(30, TimeUnit.SECONDS).getID();
            leases.add(id);
            kv.put(bytes(prefix + seq), value, PutOption.builder().withLeaseId(id).build()).get(30, TimeUnit.SECONDS);
          };
        };
        Runner register = (n, w, d) -> {
          try {
            return ClosedLoop.run(n, w, d, grantPut);
          } finally {
            List<java.util.concurrent.CompletableFuture<?>> revoking = new ArrayList<>();
            for (Long id; (id = leases.poll()) != null; ) {
              revoking.add(lease.revoke(id));
              if (revoking.size() >= 256) {
                java.util.concurrent.CompletableFuture.allOf(revoking.toArray(new java.util.concurrent.CompletableFuture<?>[0]))
                    .get(60, TimeUnit.SECONDS);
                revoking.clear();
              }
            }
            java.util.concurrent.CompletableFuture.allOf(revoking.toArray(new java.util.concurrent.CompletableFuture<?>[0]))
                .get(60, TimeUnit.SECONDS);
          }
        };
        IntFunction<ClosedLoop.Operation> get = w -> seq ->
            kv.get(bytes("read/" + ThreadLocalRandom.current().nextInt(1000))).get(30, TimeUnit.SECONDS);
        warm("lease-put", register);
        for (int n : inFlight) {
          point("lease-put", n, register);
        }
        warm("get", get);
        for (int n : inFlight) {
          point("get", n, get);
        }
      }
    }

    private void measureZooKeeper() throws Exception {
      if (zk == null) {
        throw new CommandLine.ParameterException(new CommandLine(this), "--system zookeeper needs --zk");
      }
      try (CuratorFramework client = CuratorFrameworkFactory.newClient(zk, 10_000, 10_000, new RetryNTimes(3, 100))) {
        client.start();
        if (!client.blockUntilConnected(60, TimeUnit.SECONDS)) {
          throw new IllegalStateException("ZooKeeper at " + zk + " did not answer in 60 s");
        }
        byte[] value = new byte[16];
        for (int i = 0; i < 1000; i++) {
          client.create().orSetData().creatingParentsIfNeeded().forPath("/read/" + i, value);
        }
        client.create().orSetData().creatingParentsIfNeeded().forPath("/reg", new byte[0]);
        // each run's ephemeral nodes belong to a session of its own, closed after it (its nodes go with it)
        Runner create = (n, w, d) -> {
          try (CuratorFramework session = CuratorFrameworkFactory.newClient(zk, 10_000, 10_000, new RetryNTimes(3, 100))) {
            session.start();
            if (!session.blockUntilConnected(60, TimeUnit.SECONDS)) {
              throw new IllegalStateException("ZooKeeper at " + zk + " did not answer in 60 s");
            }
            return ClosedLoop.run(n, w, d, worker -> {
              String prefix = "/reg/" + unique.incrementAndGet() + "-";
              return seq -> session.create().withMode(CreateMode.EPHEMERAL).forPath(prefix + seq, value);
            });
          }
        };
        IntFunction<ClosedLoop.Operation> syncGet = w -> seq -> {
          String path = "/read/" + ThreadLocalRandom.current().nextInt(1000);
          CountDownLatch synced = new CountDownLatch(1);
          client.sync().inBackground((c, event) -> synced.countDown()).forPath(path);
          if (!synced.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("sync timed out");
          }
          client.getData().forPath(path);
        };
        warm("ephemeral-create", create);
        for (int n : inFlight) {
          point("ephemeral-create", n, create);
        }
        warm("sync-get", syncGet);
        for (int n : inFlight) {
          point("sync-get", n, syncGet);
        }
      }
    }

    private void measureRoster() throws Exception {
      Load load = new Load();
      load.rosterJar = rosterJar;
      Path data = Files.createTempDirectory("roster-compare-");
      List<Process> processes = new ArrayList<>();
      RegistryNode client = null;
      try {
        client = load.startProcesses(data, processes, true);
        for (String workload : List.of("register", "consistent-read")) {
          Load.Workers workers = Load.workers("compare-" + workload, workload, List.of(client));
          warm(workload, workers::run);
          for (int n : inFlight) {
            point(workload, n, workers::run);
          }
        }
      } finally {
        try {
          if (client != null) {
            client.close();
          }
        } catch (RuntimeException e) {
          System.err.println("closing the client node: " + e);
        }
        for (Process p : processes) {
          p.destroy();
          if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
          }
        }
        try {
          io.roster.testkit.LocalCluster.deleteTree(data);
        } catch (RuntimeException e) {
          System.err.println("could not delete " + data + ": " + e);
        }
      }
    }
  }

  /** The table, the summary line and the chart from the points that {@code measure} wrote. */
  @Command(name = "report", mixinStandardHelpOptions = true)
  static final class Report implements Callable<Integer> {
    @Option(names = "--points", required = true)
    Path points;

    @Option(names = "--chart", description = "Write a PNG chart here")
    Path chart;

    @Option(names = "--machine", defaultValue = "", description = "A line describing the machine, for the chart")
    String machine;

    @Override
    public Integer call() throws Exception {
      List<Load.Point> all = new ArrayList<>();
      List<String> notSteady = new ArrayList<>();
      System.out.println(Load.Point.HEADER);
      for (String line : Files.readAllLines(points)) {
        String row = line.contains("#") ? line.substring(0, line.indexOf('#')).strip() : line.strip();
        if (row.isEmpty()) {
          System.out.println(line);
          java.util.regex.Matcher m = java.util.regex.Pattern.compile("^# warm (\\S+) (\\S+): NOT STEADY").matcher(line);
          if (m.find()) {
            notSteady.add(m.group(1) + "/" + m.group(2));
          }
          continue;
        }
        Load.Point p = parse(row);
        all.add(p);
        System.out.println(p.row() + (line.contains("#") ? "  " + line.substring(line.indexOf('#')) : ""));
      }
      int n = all.stream().mapToInt(Load.Point::inFlight).max().orElse(0);
      int lone = 1;
      System.out.printf(Locale.ROOT, "summary: register_vs_zk_ephemeral=%.2f register_vs_etcd_lease_put=%.2f "
          + "consistent_read_vs_zk_sync_get=%.2f consistent_read_vs_etcd_get=%.2f lone_register_p50_vs_zk=%.2f%s%n",
          ratio(all, "roster", "register", "zookeeper", "ephemeral-create", n, Load.Point::opsPerSecond),
          ratio(all, "roster", "register", "etcd", "lease-put", n, Load.Point::opsPerSecond),
          ratio(all, "roster", "consistent-read", "zookeeper", "sync-get", n, Load.Point::opsPerSecond),
          ratio(all, "roster", "consistent-read", "etcd", "get", n, Load.Point::opsPerSecond),
          ratio(all, "roster", "register", "zookeeper", "ephemeral-create", lone, Load.Point::p50Millis),
          notSteady.isEmpty() ? "" : " not_steady=" + String.join(",", notSteady));
      if (chart != null) {
        Chart.write(all, chart, "Roster vs etcd vs ZooKeeper, 3 members each on 127.0.0.1, each alone; " + machine);
      }
      return 0;
    }

    static Load.Point parse(String csv) {
      String[] f = csv.split(",");
      if (f.length != 7) {
        throw new IllegalArgumentException("not a point: " + csv);
      }
      return new Load.Point(f[0], f[1], Integer.parseInt(f[2]), Double.parseDouble(f[3]), Double.parseDouble(f[4]),
          Double.parseDouble(f[5]), Double.parseDouble(f[6]));
    }

    private static double ratio(List<Load.Point> points, String s1, String w1, String s2, String w2, int n,
        java.util.function.ToDoubleFunction<Load.Point> metric) {
      return value(points, s1, w1, n, metric) / Math.max(1e-9, value(points, s2, w2, n, metric));
    }

    private static double value(List<Load.Point> points, String system, String workload, int n,
        java.util.function.ToDoubleFunction<Load.Point> metric) {
      return points.stream().filter(p -> p.system().equals(system) && p.workload().equals(workload) && p.inFlight() == n)
          .mapToDouble(metric).findFirst().orElse(Double.NaN);
    }
  }
}
