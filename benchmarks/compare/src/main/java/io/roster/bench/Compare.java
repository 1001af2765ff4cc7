package io.roster.bench;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.Lease;
import io.etcd.jetcd.options.PutOption;
import io.roster.RegistryNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
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
 */
@Command(name = "compare", mixinStandardHelpOptions = true)
public final class Compare implements Callable<Integer> {
  @Option(names = "--etcd", required = true, split = ",", description = "etcd client URLs")
  List<String> etcd;

  @Option(names = "--zk", required = true, description = "ZooKeeper connect string")
  String zk;

  @Option(names = "--in-flight", split = ",", defaultValue = "1,16,64")
  List<Integer> inFlight;

  @Option(names = "--duration", defaultValue = "PT10S")
  Duration duration;

  @Option(names = "--warmup", defaultValue = "PT3S")
  Duration warmup;

  @Option(names = "--system-warmup", defaultValue = "PT20S",
      description = "Untimed load on each system before its points (JIT, caches, connections), split over its operations")
  Duration systemWarmup;

  @Option(names = "--roster-jar", defaultValue = "registry-server/target/roster.jar")
  Path rosterJar;

  @Option(names = "--chart", description = "Write a PNG chart here")
  Path chart;

  @Option(names = "--machine", defaultValue = "", description = "A line describing the machine, for the chart")
  String machine;

  public static void main(String[] args) {
    System.setProperty("roster.log.level", "WARN");
    System.setProperty("roster.ratis.log.level", "OFF");
    System.exit(new CommandLine(new Compare()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    List<Load.Point> points = new ArrayList<>();
    header();
    measureEtcd(points);
    measureZooKeeper(points);
    measureRoster(points);
    int n = inFlight.get(inFlight.size() - 1);
    System.out.printf("summary: register_vs_zk_ephemeral=%.2f register_vs_etcd_lease_put=%.2f "
        + "consistent_read_vs_zk_sync_get=%.2f consistent_read_vs_etcd_get=%.2f%n",
        ratio(points, "roster", "register", "zookeeper", "ephemeral-create", n),
        ratio(points, "roster", "register", "etcd", "lease-put", n),
        ratio(points, "roster", "consistent-read", "zookeeper", "sync-get", n),
        ratio(points, "roster", "consistent-read", "etcd", "get", n));
    if (chart != null) {
      Chart.write(points, chart, "Roster vs etcd vs ZooKeeper, 3 members each on 127.0.0.1; " + machine);
    }
    return 0;
  }

  private void header() {
    System.out.println(Load.Point.HEADER);
  }

  private Load.Point measure(List<Load.Point> points, String system, String op, int n,
      java.util.function.IntFunction<ClosedLoop.Operation> workers) throws InterruptedException {
    ClosedLoop.Result r = ClosedLoop.run(n, warmup, duration, workers);
    Load.Point p = new Load.Point(system, op, n, r.opsPerSecond(), r.percentileMillis(50), r.percentileMillis(99),
        r.percentileMillis(99.9));
    System.out.println(p.row() + (r.errors() > 0 ? "  (" + r.errors() + " errors)" : ""));
    points.add(p);
    return p;
  }

  /** Untimed load at 16 in flight, so every system is measured warm. */
  private void warm(String system, java.util.function.IntFunction<ClosedLoop.Operation> workers)
      throws InterruptedException {
    System.err.println("warming " + system + " for " + systemWarmup.dividedBy(2) + "...");
    ClosedLoop.run(16, Duration.ZERO, systemWarmup.dividedBy(2), workers);
  }

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  private void measureEtcd(List<Load.Point> points) throws Exception {
    try (Client client = Client.builder().endpoints(etcd.toArray(new String[0])).build()) {
      KV kv = client.getKVClient();
      Lease lease = client.getLeaseClient();
      ByteSequence value = ByteSequence.from(new byte[16]);
      for (int i = 0; i < 1000; i++) {
        kv.put(bytes("read/" + i), value).get(30, TimeUnit.SECONDS);
      }
      warm("etcd", w -> seq -> kv.put(bytes("warm/" + w + "/" + seq),
          value, PutOption.builder().withLeaseId(lease.grant(30).get(30, TimeUnit.SECONDS).getID()).build())
          .get(30, TimeUnit.SECONDS));
      warm("etcd", w -> seq -> kv.get(bytes("read/" + ThreadLocalRandom.current().nextInt(1000))).get(30, TimeUnit.SECONDS));
      for (int n : inFlight) {
        measure(points, "etcd", "lease-put", n, w -> seq -> {
          long id = lease.grant(30).get(30, TimeUnit.SECONDS).getID();
          kv.put(bytes("reg/" + n + "/" + w + "/" + seq), value, PutOption.builder().withLeaseId(id).build())
              .get(30, TimeUnit.SECONDS);
        });
      }
      for (int n : inFlight) {
        measure(points, "etcd", "get", n, w -> seq ->
            kv.get(bytes("read/" + ThreadLocalRandom.current().nextInt(1000))).get(30, TimeUnit.SECONDS));
      }
    }
  }

  private void measureZooKeeper(List<Load.Point> points) throws Exception {
    try (CuratorFramework client = CuratorFrameworkFactory.newClient(zk, 10_000, 10_000, new RetryNTimes(3, 100))) {
      client.start();
      if (!client.blockUntilConnected(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException("ZooKeeper at " + zk + " did not answer in 60 s");
      }
      byte[] value = new byte[16];
      for (int i = 0; i < 1000; i++) {
        client.create().orSetData().creatingParentsIfNeeded().forPath("/read/" + i, value);
      }
      client.create().orSetData().creatingParentsIfNeeded().forPath("/warm", new byte[0]);
      warm("zookeeper", w -> seq ->
          client.create().withMode(CreateMode.EPHEMERAL).forPath("/warm/" + w + "-" + seq, value));
      warm("zookeeper", w -> seq -> {
        CountDownLatch synced = new CountDownLatch(1);
        client.sync().inBackground((c, event) -> synced.countDown()).forPath("/read/0");
        synced.await(30, TimeUnit.SECONDS);
        client.getData().forPath("/read/0");
      });
      for (int n : inFlight) {
        client.create().orSetData().creatingParentsIfNeeded().forPath("/reg/" + n, new byte[0]);
        measure(points, "zookeeper", "ephemeral-create", n, w -> seq ->
            client.create().withMode(CreateMode.EPHEMERAL).forPath("/reg/" + n + "/" + w + "-" + seq, value));
      }
      for (int n : inFlight) {
        measure(points, "zookeeper", "sync-get", n, w -> seq -> {
          String path = "/read/" + ThreadLocalRandom.current().nextInt(1000);
          CountDownLatch synced = new CountDownLatch(1);
          client.sync().inBackground((c, event) -> synced.countDown()).forPath(path);
          if (!synced.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("sync timed out");
          }
          client.getData().forPath(path);
        });
      }
    }
  }

  private void measureRoster(List<Load.Point> points) throws Exception {
    Load load = new Load();
    load.warmup = warmup;
    load.duration = duration;
    load.rosterJar = rosterJar;
    Path data = Files.createTempDirectory("roster-compare-");
    List<Process> processes = new ArrayList<>();
    RegistryNode client = null;
    try {
      client = load.startProcesses(data, processes, true);
      System.err.println("warming roster for " + systemWarmup + "...");
      load.warmup = Duration.ZERO;
      load.duration = systemWarmup.dividedBy(2);
      load.run("roster-warm", "register", 16, List.of(client));
      load.run("roster-warm", "consistent-read", 16, List.of(client));
      load.warmup = warmup;
      load.duration = duration;
      for (String workload : List.of("register", "consistent-read")) {
        for (int n : inFlight) {
          Load.Point p = load.run("roster", workload, n, List.of(client));
          System.out.println(p.row());
          points.add(p);
        }
      }
    } finally {
      if (client != null) {
        client.close();
      }
      for (Process p : processes) {
        p.destroy();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      }
      io.roster.testkit.LocalCluster.deleteTree(data);
    }
  }

  private static double ratio(List<Load.Point> points, String s1, String w1, String s2, String w2, int n) {
    return throughput(points, s1, w1, n) / Math.max(1e-9, throughput(points, s2, w2, n));
  }

  private static double throughput(List<Load.Point> points, String system, String workload, int n) {
    return points.stream().filter(p -> p.system().equals(system) && p.workload().equals(workload) && p.inFlight() == n)
        .mapToDouble(Load.Point::opsPerSecond).findFirst().orElse(0);
  }
}
