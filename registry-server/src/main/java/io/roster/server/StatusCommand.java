package io.roster.server;

import io.roster.ClusterStatus;
import io.roster.Membership;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code roster status}: every Raft group and each voter, as they describe themselves, with an admin certificate. */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Prints every Raft group (the cluster's, then the partitions') with its leader, term and commit "
        + "index, and each voter's role, commit and applied index, lag and the leader's last contact with it. "
        + "Exit code 0 when every group has a leader and every voter answered within "
        + io.roster.Health.APPLY_LAG_MAX + " entries of it, 3 when not, 1 when the cluster cannot be reached, "
        + "2 for bad input.")
final class StatusCommand implements Callable<Integer> {
  /** Exit code: the cluster answered, but a group has no leader or a voter is unreachable or far behind. */
  static final int DEGRADED = 3;

  @Mixin MembersCommand.Reach reach;

  @Option(names = "--json", description = "Print JSON (io.roster.ClusterStatus) instead of a table.")
  boolean json;

  @Override
  public Integer call() {
    return Admin.run("status", () -> {
      ClusterStatus status;
      try (Membership m = reach.connect()) {
        status = m.status();
      }
      System.out.print(json ? Json.write(status) + "\n" : table(status));
      return status.healthy() ? 0 : DEGRADED;
    });
  }

  /** The group's name, or its id when its registry is not known. */
  private static String label(ClusterStatus.Group g) {
    return g.name() != null ? Admin.text(g.name()) : (g.cluster() ? "cluster " : "partition ") + g.groupId();
  }

  static String table(ClusterStatus status) {
    StringBuilder out = new StringBuilder();
    int w = Math.max(36, status.groups().stream().mapToInt(g -> label(g).length()).max().orElse(36));
    String row = "%-" + w + "s %-8s %-22s %-12s %6s %10s %10s %8s %9s%n";
    out.append(String.format(row, "GROUP", "MEMBER", "ADDRESS", "ROLE", "TERM", "COMMIT", "APPLIED", "LAG",
        "CONTACT"));
    for (ClusterStatus.Group g : status.groups()) {
      String name = label(g);
      if (g.leader() == null) {
        out.append(String.format(row, name, "-", "-", "NO LEADER", "-", "-", "-", "-", "-"));
        continue;
      }
      for (ClusterStatus.Member m : g.members()) {
        out.append(String.format(row, name, m.nodeId(), m.address(), m.role(), g.term(),
            m.commitIndex() < 0 ? "-" : m.commitIndex(), m.appliedIndex() < 0 ? "-" : m.appliedIndex(), m.lag(),
            m.lastContactMillis() < 0 ? "-" : m.lastContactMillis() + "ms"));
        name = "";
      }
    }
    out.append(status.healthy() ? "healthy\n" : "degraded: a group has no leader, or a voter is unreachable or behind\n");
    return out.toString();
  }
}
