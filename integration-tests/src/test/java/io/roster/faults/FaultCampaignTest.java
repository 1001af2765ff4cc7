package io.roster.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.RegistryNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Many randomized fault runs, tabulated: {@code bash integration-tests/faults.sh [RUNS]} (the
 * default run skips it). Each run is a fresh registry under a recorded workload on two client
 * nodes while one or two random faults of random length hit the three voter processes; its history
 * is checked for linearizability. The voters are started afresh every {@value #RUNS_PER_CLUSTER}
 * runs. The table goes to standard output and to {@code target/fault-campaign.md}.
 */
@EnabledIfSystemProperty(named = "roster.faults.runs", matches = "\\d+")
class FaultCampaignTest {
  /** The partitioned registry the runs of one cluster share. */
  static final String PARTITIONED = "partitioned";
  static final int RUNS_PER_CLUSTER = 20;

  @Test
  void randomizedRunsFindNoAnomaly() throws Exception {
    assertThat(NetCluster.missing()).isNull();
    int runs = Integer.getInteger("roster.faults.runs");
    long seed = Long.getLong("roster.faults.seed", System.nanoTime());
    Random random = new Random(seed);
    List<Nemesis> kinds = kinds(System.getProperty("roster.faults.kinds", ""));
    System.out.printf("fault campaign: %d runs, seed %d%n", runs, seed);
    List<FaultRun.Result> results = new ArrayList<>();
    int anomalies = 0;
    for (int first = 0; first < runs; first += RUNS_PER_CLUSTER) {
      Path dir = Files.createTempDirectory("roster-campaign");
      List<RegistryNode> clients = new ArrayList<>();
      try (NetCluster cluster = NetCluster.start(dir, 3, List.of())) {
        for (String id : List.of("c1", "c2")) {
          clients.add(cluster.client(id, Duration.ofSeconds(15), Duration.ofSeconds(5)));
        }
        for (RegistryNode c : clients) {
          c.ready().get(120, TimeUnit.SECONDS);
        }
        // the runs share one partitioned registry (each partition is a Raft group): made before the first run
        for (RegistryNode c : clients) {
          c.registry(PARTITIONED, io.roster.Keys.UNIQUE, 4, io.roster.ValueCodec.bytes());
        }
        cluster.awaitCaughtUp(Duration.ofSeconds(60));
        Thread.sleep(3_000); // the new groups' first elections and sessions settle
        for (int run = first; run < Math.min(runs, first + RUNS_PER_CLUSTER); run++) {
          List<Nemesis> faults = new ArrayList<>();
          for (int f = 1 + random.nextInt(2); f > 0; f--) {
            faults.add(kinds.get(random.nextInt(kinds.size())));
          }
          Duration calm = Duration.ofMillis(1_000 + random.nextInt(1_000));
          Duration length = Duration.ofMillis(2_000 + random.nextInt(3_000));
          cluster.awaitCaughtUp(Duration.ofSeconds(60));
          long epoch = System.nanoTime();
          Workload workload = new Workload(clients, "run-" + run, io.roster.Keys.UNIQUE, 1, 3, 1, 5, "k", true, epoch);
          List<SideWorkload> sides = FaultSmokeTest.sides(clients, "run-" + run, PARTITIONED, epoch);
          FaultRun.Result r;
          try {
            r = FaultRun.run(cluster, faults, calm, length, workload, sides);
          } finally {
            workload.stop();
            sides.forEach(SideWorkload::stop);
          }
          results.add(r);
          anomalies += r.report().anomalies().size() + r.violations().size();
          System.out.printf("run %d: %s%n", run, r.table().replace("\n", "\n  "));
        }
      } finally {
        clients.forEach(RegistryNode::close);
        if (!Boolean.getBoolean("roster.faults.keep")) {
          io.roster.testkit.LocalCluster.deleteTree(dir);
        } else {
          System.out.println("voter logs kept in " + dir);
        }
      }
    }
    String table = table(results, seed);
    System.out.println(table);
    Files.writeString(Path.of("target", "fault-campaign.md"), table, StandardCharsets.UTF_8);
    assertThat(anomalies).as("non-linearizable keys over all runs").isZero();
    assertThat(results.stream().flatMap(r -> r.surprises().stream()).toList()).isEmpty();
  }

  /**
   * The kinds of fault a campaign draws from: {@code roster.faults.kinds}, a comma-separated list of
   * labels such as {@code kill-leader,pause-leader} (to measure one failover), or every kind when empty.
   */
  static List<Nemesis> kinds(String labels) {
    if (labels.isBlank()) {
      return List.of(Nemesis.values());
    }
    List<Nemesis> kinds = new ArrayList<>();
    for (String label : labels.split(",")) {
      kinds.add(java.util.Arrays.stream(Nemesis.values()).filter(k -> k.label().equals(label.trim())).findFirst()
          .orElseThrow(() -> new IllegalArgumentException("roster.faults.kinds: no fault named '" + label.trim()
              + "'; the kinds are " + java.util.Arrays.stream(Nemesis.values()).map(Nemesis::label).toList())));
    }
    return kinds;
  }

  /** Totals, then the failover distribution per kind of fault. */
  static String table(List<FaultRun.Result> results, long seed) {
    long ops = results.stream().mapToLong(FaultRun.Result::ops).sum();
    long indeterminate = results.stream().mapToLong(FaultRun.Result::indeterminate).sum();
    long anomalies = results.stream().mapToLong(r -> r.report().anomalies().size()).sum();
    long undecided = results.stream().mapToLong(r -> r.report().undecided().size()).sum();
    long violations = results.stream().mapToLong(r -> r.violations().size()).sum();
    Map<String, Long> counts = new java.util.LinkedHashMap<>();
    results.forEach(r -> r.counts().forEach((what, n) -> counts.merge(what, n, Long::sum)));
    double calm = results.stream().mapToDouble(FaultRun.Result::calmWritesPerSecond).average().orElse(0);
    double inFaults = results.stream().mapToDouble(FaultRun.Result::faultWritesPerSecond).average().orElse(0);
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "| runs | operations | indeterminate | keys not linearizable | undecided "
        + "| other violations | probe writes/s calm | in faults |%n"
        + "|---|---|---|---|---|---|---|---|%n| %d | %d | %d | %d | %d | %d | %.1f | %.1f |%n%n",
        results.size(), ops, indeterminate, anomalies, undecided, violations, calm, inFaults));
    b.append("Beside the register/read history: ");
    b.append(String.join(", ", counts.entrySet().stream().map(e -> String.format(Locale.ROOT, "%,d %s", e.getValue(),
        e.getKey())).toList()));
    b.append(" (other violations: stale atLeast reads, overlapping or out-of-order lock holds, lost increments, "
        + "duplicate keys not linearizable, messages lost, duplicated or reordered).\n\n");
    Map<Nemesis, List<long[]>> byKind = new EnumMap<>(Nemesis.class);
    for (FaultRun.Result r : results) {
      for (FaultRun.Fault f : r.faults()) {
        byKind.computeIfAbsent(f.kind(), k -> new ArrayList<>())
            .add(new long[] {f.firstWriteAfterInjectMs(), f.firstWriteAfterHealMs()});
      }
    }
    b.append("| fault | count | first write after the fault, ms: p50 / p90 / max | none during the fault "
        + "| first write after the heal, ms: p50 / max |\n|---|---|---|---|---|\n");
    byKind.forEach((kind, rows) -> {
      List<Long> during = rows.stream().map(x -> x[0]).filter(v -> v >= 0).sorted().toList();
      List<Long> after = rows.stream().map(x -> x[1]).filter(v -> v >= 0).sorted().toList();
      b.append(String.format(Locale.ROOT, "| %s | %d | %s | %d | %s |%n", kind.label(), rows.size(),
          during.isEmpty() ? "-" : pct(during, 50) + " / " + pct(during, 90) + " / " + during.get(during.size() - 1),
          rows.size() - during.size(),
          after.isEmpty() ? "-" : pct(after, 50) + " / " + after.get(after.size() - 1)));
    });
    b.append(String.format(Locale.ROOT, "%nseed %d%n", seed));
    return b.toString();
  }

  private static long pct(List<Long> sorted, int p) {
    return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
  }
}
