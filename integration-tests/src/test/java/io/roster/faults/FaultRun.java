package io.roster.faults;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.awaitility.Awaitility;

/**
 * One run: a recorded workload on client nodes while a sequence of faults hits the voters, then the
 * history checked for linearizability and the availability read off it.
 */
final class FaultRun {
  /** A fault as it happened, with the write availability around it (times in ms). */
  record Fault(Nemesis kind, String target, long lengthMs, long firstWriteAfterInjectMs,
      long firstWriteAfterHealMs) {}

  /**
   * @param violations what the side workloads and the {@code atLeast} reads found wrong (empty when
   *     nothing); the register/read history's verdict is {@code report}
   * @param counts what the side workloads did, by name
   */
  record Result(List<Fault> faults, Linearizability.Report report, List<String> surprises, long ops,
      long indeterminate, double calmWritesPerSecond, double faultWritesPerSecond, List<String> violations,
      Map<String, Long> counts) {

    String table() {
      StringBuilder b = new StringBuilder();
      b.append(String.format(Locale.ROOT, "%-18s %-7s %14s %14s%n", "fault", "target", "write after (ms)",
          "after heal (ms)"));
      for (Fault f : faults) {
        b.append(String.format(Locale.ROOT, "%-18s %-7s %14s %14s%n", f.kind().label(), f.target(),
            ms(f.firstWriteAfterInjectMs()), ms(f.firstWriteAfterHealMs())));
      }
      b.append(String.format(Locale.ROOT, "%d operations (%d indeterminate), %s; probe writes/s %.0f calm, %.0f in faults",
          ops, indeterminate, report, calmWritesPerSecond, faultWritesPerSecond));
      b.append(String.format(Locale.ROOT, "%n%s; %s", counts,
          violations.isEmpty() ? "no other violation" : violations.toString()));
      return b.toString();
    }

    private static String ms(long v) {
      return v < 0 ? "-" : Long.toString(v);
    }
  }

  private FaultRun() {}

  /**
   * Runs {@code faults} one after the other: {@code calm} without a fault, then the fault for
   * {@code length}, then healed; the next one starts once a write has committed again.
   */
  static Result run(NetCluster c, List<Nemesis> faults, Duration calm, Duration length, Workload workload)
      throws InterruptedException {
    return run(c, faults, calm, length, workload, List.of());
  }

  /** As above, with {@code sides} running beside the workload, each checked at the end. */
  static Result run(NetCluster c, List<Nemesis> faults, Duration calm, Duration length, Workload workload,
      List<SideWorkload> sides) throws InterruptedException {
    List<long[]> windows = new ArrayList<>();
    List<Object[]> done = new ArrayList<>();
    for (Nemesis kind : faults) {
      Thread.sleep(calm.toMillis()); // the workload runs without a fault (the calm phase of the run)
      // the cluster group's leader, which leads the probes' registry (one partition lives in the cluster group)
      String leader = Awaitility.await("a leader").atMost(Duration.ofSeconds(60))
          .until(c::leader, l -> l != null);
      Nemesis.Injected fault = kind.inject(c, leader);
      long injected = workload.now(); // the fault is in force from here
      System.out.printf("%s %s on %s%n", java.time.LocalTime.now(), kind.label(), fault.target());
      if (Boolean.getBoolean("roster.faults.trace")) {
        Thread.sleep(length.toMillis() / 2);
        Thread.getAllStackTraces().forEach((t, st) -> {
          if (t.getName().startsWith("workload-probe")) {
            System.out.println("stack of " + t.getName() + " at " + java.time.LocalTime.now());
            for (StackTraceElement e : st) {
              System.out.println("    " + e);
            }
          }
        });
        Thread.sleep(length.toMillis() / 2);
      } else {
        Thread.sleep(length.toMillis()); // the fault lasts this long
      }
      long healed = workload.now();
      fault.heal();
      System.out.printf("%s %s healed%n", java.time.LocalTime.now(), kind.label());
      windows.add(new long[] {injected, healed});
      done.add(new Object[] {kind, fault.target(), injected, healed});
      // the next fault waits for writes to commit again, and for every voter to have caught up
      Awaitility.await(kind.label() + ": writes resume").atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(50)).until(() -> firstWrite(workload.snapshot(), healed) >= 0);
      long resumed = workload.now();
      c.awaitCaughtUp(Duration.ofSeconds(60));
      System.out.printf("%s writes resumed %d ms after the heal, every voter caught up %d ms after%n",
          java.time.LocalTime.now(), (resumed - healed) / 1_000_000, (workload.now() - resumed) / 1_000_000);
    }
    Thread.sleep(calm.toMillis());
    List<Op> history = workload.stop();
    List<String> violations = new ArrayList<>(workload.staleReads());
    Map<String, Long> counts = new java.util.LinkedHashMap<>();
    counts.put("atLeast reads", workload.atLeastReads());
    for (SideWorkload side : sides) {
      violations.addAll(side.stopAndCheck());
      new java.util.TreeMap<>(side.counts()).forEach(counts::put);
    }
    if (Boolean.getBoolean("roster.faults.trace")) {
      for (Object[] d : done) {
        long from = (long) d[2] - 1_000_000_000L;
        long to = (long) d[3] + 1_000_000_000L;
        System.out.println("trace of " + d[0] + " [" + ((long) d[2] / 1_000_000) + ".." + ((long) d[3] / 1_000_000) + "]");
        history.stream().filter(o -> o.key().startsWith("probe-") && o.call() >= from && o.call() <= to)
            .forEach(o -> System.out.println("  " + o.client() + " " + o.f() + " " + (o.call() / 1_000_000) + ".."
                + (o.indeterminate() ? "?" : Long.toString(o.ret() / 1_000_000)) + " " + o.out()));
      }
    }
    List<Fault> out = new ArrayList<>();
    for (Object[] d : done) {
      long injected = (long) d[2];
      long healed = (long) d[3];
      long afterInject = firstWrite(history, injected);
      long afterHeal = firstWrite(history, healed);
      out.add(new Fault((Nemesis) d[0], (String) d[1], (healed - injected) / 1_000_000,
          afterInject < 0 || afterInject > healed ? -1 : (afterInject - injected) / 1_000_000,
          afterHeal < 0 ? -1 : (afterHeal - healed) / 1_000_000));
    }
    long writesIn = 0;
    long writesOut = 0;
    long inNanos = 0;
    for (long[] w : windows) {
      inNanos += w[1] - w[0];
    }
    long first = history.stream().mapToLong(Op::call).min().orElse(0);
    long last = history.stream().filter(o -> !o.indeterminate()).mapToLong(Op::ret).max().orElse(0);
    for (Op o : history) {
      if (!o.key().startsWith("probe-") || !"ok".equals(o.out())) {
        continue;
      }
      boolean in = windows.stream().anyMatch(w -> o.ret() >= w[0] && o.ret() < w[1]);
      if (in) {
        writesIn++;
      } else {
        writesOut++;
      }
    }
    long outNanos = Math.max(1, last - first - inNanos);
    Linearizability.Report report = Linearizability.check(history, Model.UNIQUE_KEY);
    return new Result(out, report, workload.surprises(), history.size(),
        history.stream().filter(Op::indeterminate).count(), writesOut * 1e9 / outNanos,
        writesIn * 1e9 / Math.max(1, inNanos), violations, counts);
  }

  /**
   * When the first probe write invoked at or after {@code from} returned committed, or -1 (the
   * workload's writes may be refused or answered locally; each probe write commits).
   */
  static long firstWrite(List<Op> history, long from) {
    long best = -1;
    for (Op o : history) {
      if (o.key().startsWith("probe-") && "ok".equals(o.out()) && o.call() >= from && (best < 0 || o.ret() < best)) {
        best = o.ret();
      }
    }
    return best;
  }
}
