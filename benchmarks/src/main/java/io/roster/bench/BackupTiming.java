package io.roster.bench;

import io.roster.Backup;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import io.roster.mirror.Mirror;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * Backup and restore at scale, against 3 voters in this JVM (TLS on): fills a registry with
 * {@code --entries} registrations, then times {@code Backup.save} from the live cluster, a check of
 * the file, the restore of 3 data directories, and a fresh cluster started on them until a voter
 * serves every entry. Run with a heap for 6 mirrors, e.g. {@code -Xmx10g}.
 */
@CommandLine.Command(name = "backup-timing", mixinStandardHelpOptions = true,
    description = "Save, check and restore times with many registrations.")
public final class BackupTiming implements Callable<Integer> {
  private static final String REGISTRY = "backup";

  @Option(names = "--entries", defaultValue = "1000000", description = "Registrations (default: ${DEFAULT-VALUE})")
  int entries;

  public static void main(String[] args) {
    System.setProperty("roster.log.level", System.getProperty("roster.log.level", "WARN"));
    System.setProperty("roster.ratis.log.level", System.getProperty("roster.ratis.log.level", "OFF"));
    System.exit(new CommandLine(new BackupTiming()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    Path data = Files.createTempDirectory("roster-backup-");
    // long sessions: the saved names must outlive the restored cluster's start
    Duration session = Duration.ofSeconds(60);
    try {
      Path file = data.resolve("roster.snap");
      try (LocalCluster cluster = LocalCluster.start(data.resolve("old"), 3, session, Duration.ofSeconds(30))) {
        cluster.awaitReady(Duration.ofSeconds(60));
        Node leader = cluster.leader();
        // the names are a client node's: the restored voters' new sessions would supersede a voter's
        Node app = cluster.startClient("app");
        app.ready().get(60, java.util.concurrent.TimeUnit.SECONDS);
        app.registry(REGISTRY).whereis("warm-up"); // creates the registry
        long filled = Recovery.fill(cluster, app, REGISTRY, entries, 500);
        System.out.printf("%,d registrations%n", filled);
        long start = System.nanoTime();
        Backup.Summary saved = Backup.save("roster", Map.of(leader.nodeId(), cluster.voters().get(leader.nodeId())),
            cluster.tls("ops", io.roster.Tls.CertRole.ADMIN), file, null);
        System.out.printf("save: %.2f s, %,d records, %.1f MiB%n", seconds(start), saved.groups().get(0).records(),
            Files.size(file) / 1048576.0);
      }
      long start = System.nanoTime();
      Backup.inspect(file, null);
      System.out.printf("status (check the whole file): %.2f s%n", seconds(start));
      start = System.nanoTime();
      for (String id : new String[] {"n1", "n2", "n3"}) {
        Backup.restore(file, data.resolve("new").resolve(id), "roster", id, null);
      }
      System.out.printf("restore of 3 data directories: %.2f s%n", seconds(start));
      start = System.nanoTime();
      try (LocalCluster restored = LocalCluster.start(data.resolve("new"), 3, session, Duration.ofSeconds(30))) {
        restored.awaitReady(Duration.ofMinutes(5));
        Mirror m = restored.node("n1").mirror();
        if (m.whereis(REGISTRY, Recovery.key(entries - 1)) == null) {
          throw new IllegalStateException("the restored cluster lacks the last registration");
        }
        System.out.printf("restored cluster serving all %,d: %.2f s after its start%n",
            m.registrationCount(), seconds(start));
      }
      return 0;
    } finally {
      LocalCluster.deleteTree(data);
    }
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }
}
