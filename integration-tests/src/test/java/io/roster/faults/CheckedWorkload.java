package io.roster.faults;

import io.roster.Keys;
import io.roster.RegistryNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A {@link Workload} without probes run beside the main one, its history checked per key against
 * its model at the end: the duplicate keys ({@link Model#DUPLICATE_KEY}), or unique keys of a
 * partitioned registry ({@link Model#UNIQUE_KEY}, with its {@code atLeast} reads).
 */
final class CheckedWorkload implements SideWorkload {
  private final Workload workload;
  private final Model<String> model;
  private final String label;
  private long ops;
  /** Each thread's rest between calls: about 20 calls a second per thread. */
  private static final long THINK_MILLIS = 50;

  private CheckedWorkload(Workload workload, Model<String> model, String label) {
    this.workload = workload;
    this.model = model;
    this.label = label;
  }

  /** Two threads per node on three keys of a duplicate registry. */
  static CheckedWorkload duplicateKeys(List<RegistryNode> nodes, String name, long epochNanos) {
    return new CheckedWorkload(new Workload(nodes, name, Keys.DUPLICATE, 1, 2, 0, 3, "k", false, epochNanos).think(THINK_MILLIS),
        Model.DUPLICATE_KEY, "duplicate-key");
  }

  /**
   * Two threads per node on eight unique keys named {@code keyPrefix} and a number, spread over the
   * partitions of registry {@code name} (a partitioned registry is a Raft group per partition: runs
   * share one, each with keys of its own).
   */
  static CheckedWorkload partitioned(List<RegistryNode> nodes, String name, int partitions, String keyPrefix,
      long epochNanos) {
    return new CheckedWorkload(new Workload(nodes, name, Keys.UNIQUE, partitions, 2, 0, 8, keyPrefix, false, epochNanos).think(THINK_MILLIS),
        Model.UNIQUE_KEY, partitions + "-partition");
  }

  @Override
  public void stop() {
    workload.stop();
  }

  @Override
  public List<String> stopAndCheck() {
    List<Op> history = workload.stop();
    ops = history.size();
    Linearizability.Report report = Linearizability.check(history, model);
    List<String> violations = new ArrayList<>();
    report.anomalies().forEach(a -> violations.add(label + " key " + a.key() + " not linearizable: " + a.explanation()));
    report.undecided().forEach(u -> violations.add(label + " key " + u.key() + " undecided (" + u.ops() + " operations)"));
    workload.staleReads().forEach(s -> violations.add(label + " stale read: " + s));
    workload.surprises().forEach(s -> violations.add(label + " workload failed: " + s));
    return violations;
  }

  @Override
  public Map<String, Long> counts() {
    return model == Model.UNIQUE_KEY ? Map.of(label + " operations", ops, label + " atLeast reads", workload.atLeastReads())
        : Map.of(label + " operations", ops); // atLeast reads are checked on unique keys only
  }
}
