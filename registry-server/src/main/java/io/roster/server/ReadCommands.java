package io.roster.server;

import io.roster.ClusterReader;
import io.roster.ConsistencyReport;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The admin commands that read the cluster's state with an admin certificate: {@code registries
 * list}, {@code get}, {@code list}, {@code watch}, {@code sessions list} and {@code check}. Tables by
 * default, {@code --json} for scripts (values in base64).
 */
final class ReadCommands {
  /** Exit code of {@code get}: the key has no registration. */
  static final int NOT_FOUND = 4;
  /** Exit code of {@code check}: a replica differs from the majority, or a group has no majority. */
  static final int DIVERGED = 3;

  private ReadCommands() {}

  /** How to reach the cluster, and whether to print JSON. */
  static final class Output {
    @Option(names = "--json", description = "Print JSON instead of a table (values in base64).")
    boolean json;
  }

  @Command(name = "registries", mixinStandardHelpOptions = true, description = "The cluster's registries.",
      subcommands = Registries.ListRegistries.class)
  static final class Registries implements Runnable {
    @Override
    public void run() {
      new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
        description = "Prints every registry: its key mode, partitions, registrations now and creation revision "
            + "(a linearizable read of every group's state).")
    static final class ListRegistries implements Callable<Integer> {
      @Mixin MembersCommand.Reach reach;
      @Mixin Output output;

      @Override
      public Integer call() {
        return Admin.run("registries list", () -> {
          try (ClusterReader r = reach.reader()) {
            List<ClusterReader.RegistryInfo> all = r.registries();
            if (output.json) {
              System.out.println(Json.write(all));
            } else {
              int w = Math.max(8, all.stream().mapToInt(i -> Admin.text(i.name()).length()).max().orElse(8));
              String row = "%-" + w + "s  %-16s  %10s  %13s  %12s%n";
              System.out.printf(row, "REGISTRY", "MODE", "PARTITIONS", "REGISTRATIONS", "REVISION");
              all.forEach(i -> System.out.printf(row, Admin.text(i.name()), i.mode(), i.partitions(), i.registrations(),
                  i.revision()));
            }
            return 0;
          }
        });
      }
    }
  }

  /** Prints registrations as a table or JSON. */
  static void print(List<ClusterReader.Entry> entries, boolean json) {
    if (json) {
      System.out.println(Json.write(entries));
      return;
    }
    int w = Math.max(3, entries.stream().mapToInt(e -> Admin.text(e.key()).length()).max().orElse(3));
    String row = "%-" + w + "s  %-32s  %12s  %9s  %s%n";
    System.out.printf(row, "KEY", "PID", "REVISION", "PARTITION", "VALUE");
    entries.forEach(e -> System.out.printf(row, Admin.text(e.key()), Admin.text(e.pid()), e.revision(),
        e.partition() < 0 ? "-" : e.partition(), Admin.value(e.value())));
  }

  @Command(name = "get", mixinStandardHelpOptions = true,
      description = "Prints the registrations of one key (linearizable). Exit code 0 when it has any, "
          + NOT_FOUND + " when none, 2 for bad input (no such registry), 1 when the cluster cannot be reached.")
  static final class Get implements Callable<Integer> {
    @Mixin MembersCommand.Reach reach;
    @Mixin Output output;

    @Parameters(index = "0", paramLabel = "REGISTRY") String registry;

    @Parameters(index = "1", paramLabel = "KEY") String key;

    @Override
    public Integer call() {
      return Admin.run("get", () -> {
        try (ClusterReader r = reach.reader()) {
          List<ClusterReader.Entry> entries = r.get(registry, key);
          print(entries, output.json);
          return entries.isEmpty() ? NOT_FOUND : 0;
        }
      });
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = "Prints a registry's registrations in key order (linearizable; loads each of its groups' state).")
  static final class ListKeys implements Callable<Integer> {
    @Mixin MembersCommand.Reach reach;
    @Mixin Output output;

    @Parameters(index = "0", paramLabel = "REGISTRY") String registry;

    @Option(names = "--prefix", defaultValue = "", description = "Only keys that start with it.")
    String prefix;

    @Option(names = "--limit", defaultValue = "1000", description = "At most this many (default: ${DEFAULT-VALUE}).")
    int limit;

    @Override
    public Integer call() {
      return Admin.run("list", () -> {
        try (ClusterReader r = reach.reader()) {
          ClusterReader.Listing l = r.list(registry, prefix, limit);
          if (output.json) {
            System.out.println(Json.write(l));
          } else {
            print(l.entries(), false);
            if (l.total() > l.entries().size()) {
              System.out.println("(" + l.entries().size() + " of " + l.total() + "; --limit for more)");
            }
          }
          return 0;
        }
      });
    }
  }

  @Command(name = "watch", mixinStandardHelpOptions = true,
      description = "Prints a registry's changes as they are applied, until interrupted (Ctrl-C): from now, or from "
          + "a revision still in the voters' change history. One line per event; --json prints one JSON object per "
          + "line.")
  static final class Watch implements Callable<Integer> {
    @Mixin MembersCommand.Reach reach;
    @Mixin Output output;

    @Parameters(index = "0", paramLabel = "REGISTRY") String registry;

    @Option(names = "--from", paramLabel = "REV", defaultValue = "0",
        description = "Start at this revision, inclusive (default: now).")
    long from;

    @Option(names = "--partition", defaultValue = "-1",
        description = "One partition of a partitioned registry (needed with --from; default: all).")
    int partition;

    @Option(names = "--count", defaultValue = "0", description = "Stop after this many events (default: never).")
    long count;

    @Override
    public Integer call() {
      return Admin.run("watch", () -> {
        if (count < 0) {
          throw new IllegalArgumentException("--count must not be negative: " + count);
        }
        Thread caller = Thread.currentThread();
        java.util.concurrent.atomic.AtomicLong seen = new java.util.concurrent.atomic.AtomicLong();
        try (ClusterReader r = reach.reader()) {
          r.watch(registry, partition, from, e -> {
            if (count > 0 && seen.get() >= count) {
              return; // the rest of the last answer
            }
            if (output.json) {
              System.out.println(Json.compact(e));
            } else {
              System.out.printf("%d %s %s %s %s%s%n", e.revision(), e.kind(), Admin.text(e.key()), Admin.text(e.pid()),
                  Admin.value(e.value()), e.partition() < 0 ? "" : " partition=" + e.partition());
            }
            System.out.flush();
            if (count > 0 && seen.incrementAndGet() >= count) {
              caller.interrupt();
            }
          }, System.err::println);
          Thread.interrupted(); // the count reached: a normal end
          return 0;
        }
      });
    }
  }

  @Command(name = "sessions", mixinStandardHelpOptions = true, description = "The nodes' sessions.",
      subcommands = Sessions.ListSessions.class)
  static final class Sessions implements Runnable {
    @Override
    public void run() {
      new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
        description = "Prints every open session: the node, its incarnation, timeout and message address, in the "
            + "cluster's group and in each partition group.")
    static final class ListSessions implements Callable<Integer> {
      @Mixin MembersCommand.Reach reach;
      @Mixin Output output;

      @Override
      public Integer call() {
        return Admin.run("sessions list", () -> {
          try (ClusterReader r = reach.reader()) {
            List<ClusterReader.SessionInfo> all = r.sessions();
            if (output.json) {
              System.out.println(Json.write(all));
            } else {
              int w = Math.max(7, all.stream().mapToInt(s -> Admin.text(s.group()).length()).max().orElse(7));
              String row = "%-" + w + "s  %-12s  %14s  %8s  %-22s  %12s%n";
              System.out.printf(row, "GROUP", "NODE", "INCARNATION", "TIMEOUT", "ADDRESS", "REVISION");
              all.forEach(s -> System.out.printf(row, Admin.text(s.group()), Admin.text(s.nodeId()), s.incarnation(),
                  s.timeoutMillis() + "ms", s.address().isEmpty() ? "-" : Admin.text(s.address()), s.revision()));
            }
            return 0;
          }
        });
      }
    }
  }

  @Command(name = "check", mixinStandardHelpOptions = true,
      description = "Proposes a digest check in every Raft group and compares the voters' digests of their state at "
          + "that entry. Exit code 0 when every voter of every group agrees, " + DIVERGED + " when a replica differs "
          + "(it stops serving reads on its own), did not answer, or a group has no majority; 1 when the cluster "
          + "cannot be reached.")
  static final class Check implements Callable<Integer> {
    @Mixin MembersCommand.Reach reach;
    @Mixin Output output;

    @Override
    public Integer call() {
      return Admin.run("check", () -> {
        try (ClusterReader r = reach.reader()) {
          List<ConsistencyReport> reports = r.check(group -> System.err.println("checking " + group + " ..."));
          boolean agree = reports.stream().allMatch(ConsistencyReport::consistent);
          if (output.json) {
            System.out.println(Json.write(reports));
          } else {
            int w = Math.max(5, reports.stream().mapToInt(c -> Admin.text(c.group()).length()).max().orElse(5));
            String row = "%-" + w + "s  %10s  %-8s  %-64s  %s%n";
            System.out.printf(row, "GROUP", "INDEX", "MEMBER", "SHA-256", "");
            for (ConsistencyReport c : reports) {
              String name = Admin.text(c.group());
              for (var d : c.digests().entrySet()) {
                System.out.printf(row, name, c.index(), d.getKey(), d.getValue(),
                    d.getValue().equals(c.majority()) ? "ok" : "DIVERGED");
                name = "";
              }
              for (String silent : c.silent()) {
                System.out.printf(row, name, c.index(), silent, "-", "NO ANSWER");
                name = "";
              }
              if (c.majority() == null) {
                System.out.printf(row, name, c.index(), "-", "-", "NO MAJORITY");
              }
            }
            System.out.println(agree ? "consistent: every replica agrees" : "INCONSISTENT or incomplete");
          }
          return agree ? 0 : DIVERGED;
        }
      });
    }
  }
}
