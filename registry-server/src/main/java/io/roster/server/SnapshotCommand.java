package io.roster.server;

import io.roster.Backup;
import io.roster.RosterException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code roster snapshot}: save a live cluster's state into a file, check a file, seed a new voter from one. */
@Command(name = "snapshot", mixinStandardHelpOptions = true,
    description = "Backup and disaster recovery: save a cluster's state, check a saved file, restore a new cluster from it.",
    subcommands = {SnapshotCommand.Save.class, SnapshotCommand.Status.class, SnapshotCommand.Restore.class})
final class SnapshotCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  /** Prints progress to stderr at most once a second. */
  static final class Progress implements Backup.Progress {
    private final String verb;
    private long printedAt;

    Progress(String verb) {
      this.verb = verb;
    }

    @Override
    public void at(String group, long records, long bytes) {
      long now = System.nanoTime();
      if (now - printedAt >= 1_000_000_000L) {
        printedAt = now;
        System.err.printf("%s %s: %,d records, %s%n", verb, group, records, size(bytes));
      }
    }
  }

  static String size(long bytes) {
    return bytes < 1 << 20 ? String.format("%,.1f KiB", bytes / 1024.0) : String.format("%,.1f MiB", bytes / 1048576.0);
  }

  static void print(Backup.Summary s, PrintStream out) {
    out.printf("cluster '%s', saved %s, %d groups, %s%n", s.cluster(), s.savedAt(), s.groups().size(), size(s.bytes()));
    int width = Math.max(5, s.groups().stream().mapToInt(g -> g.name().length()).max().orElse(5));
    out.printf("%-" + width + "s  %12s  %10s  %s%n", "GROUP", "INDEX", "RECORDS", "SHA-256");
    for (Backup.Group g : s.groups()) {
      out.printf("%-" + width + "s  %12d  %10d  %s%n", g.name(), g.index(), g.records(), g.digest());
    }
  }

  /** Runs {@code action}: 0 done, 2 for bad input, 1 for a failure of the cluster or the file. */
  static int run(String what, Callable<Backup.Summary> action) {
    try {
      print(action.call(), System.out);
      return 0;
    } catch (IllegalArgumentException e) {
      System.err.println("roster snapshot " + what + ": " + e.getMessage());
      return 2;
    } catch (RosterException | UncheckedIOException e) {
      System.err.println("roster snapshot " + what + ": " + e.getMessage());
      return 1;
    } catch (Exception e) {
      System.err.println("roster snapshot " + what + ": " + e);
      return 1;
    }
  }

  @Command(name = "save", mixinStandardHelpOptions = true,
      description = "Saves the live cluster's state (every group, each after a linearizable read) into FILE, with an "
          + "admin certificate. Writes FILE.part and renames it when complete.")
  static final class Save implements Callable<Integer> {
    @Mixin MembersCommand.Reach reach;

    @Parameters(index = "0", paramLabel = "FILE", description = "The file to write.")
    Path file;

    @Override
    public Integer call() {
      return run("save", () -> Backup.save(reach.cluster, reach.seeds(), reach.tls(), file, new Progress("saving")));
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = "Checks FILE (layout, SHA-256, each group's digest, every record) and prints what it holds.")
  static final class Status implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "A file written by roster snapshot save.")
    Path file;

    @Override
    public Integer call() {
      return run("status", () -> Backup.inspect(file, new Progress("checking")));
    }
  }

  @Command(name = "restore", mixinStandardHelpOptions = true,
      description = "Seeds the empty data directory of a voter of a NEW cluster from FILE (checked whole first). "
          + "Run it for every voter of the new cluster, then start them with roster node as usual.")
  static final class Restore implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "A file written by roster snapshot save.")
    Path file;

    @Option(names = "--data-dir", required = true, paramLabel = "DIR", description = "The new voter's data directory.")
    Path dataDir;

    @Option(names = "--id", required = true, description = "The new voter's id.")
    String id;

    @Option(names = "--cluster", defaultValue = "roster", description = "The new cluster's name (default: ${DEFAULT-VALUE}).")
    String cluster;

    @Override
    public Integer call() {
      return run("restore", () -> Backup.restore(file, dataDir, cluster, id, new Progress("restoring")));
    }
  }
}
