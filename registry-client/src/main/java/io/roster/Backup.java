package io.roster;

import io.roster.backup.SnapshotArchive;
import io.roster.internal.admin.MembershipAdmin;
import io.roster.internal.admin.SnapshotSaver;
import io.roster.internal.node.SnapshotRestorer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Backup and disaster recovery: save a live cluster's state into a file, and seed the voters of a
 * new cluster from it (what is left when a quorum is lost for good).
 *
 * <pre>{@code
 * Backup.Summary saved = Backup.save("roster", Map.of("n1", "10.0.0.1:7001"), adminTls, Path.of("roster.snap"), null);
 * // on each voter of the new cluster, before its first start:
 * Backup.restore(Path.of("roster.snap"), Path.of("/var/lib/roster"), "roster", "n1", null);
 * }</pre>
 *
 * <p>The file holds each Raft group's records at one index (the cluster's group and every
 * partition group), that group's digest and a SHA-256 of the whole; a restore checks all of it
 * before it writes anything. The restored cluster starts at the saved state with its log
 * {@value io.roster.backup.SnapshotArchive#INDEX_GAP} entries later, so nothing cached from
 * the old cluster is taken for the new one's. The saved sessions come back too: a node that does
 * not resume its heartbeats loses them, and their names, after its session timeout, like any node
 * that goes silent.
 */
public final class Backup {
  private Backup() {}

  /** One Raft group in a file: "cluster" or "registry#partition", the index saved, its records and digest. */
  public record Group(String name, long index, long records, String digest) {}

  /** What a file holds. */
  public record Summary(String cluster, Instant savedAt, List<Group> groups, long bytes) {}

  /** Told of progress: the group being copied or checked, its records so far, and the file's bytes so far. */
  @FunctionalInterface
  public interface Progress {
    /** At {@code records} records of {@code group}, {@code bytes} into the file. */
    void at(String group, long records, long bytes);
  }

  /**
   * Saves the state of cluster {@code cluster}, reached through any of {@code voters} with the admin
   * certificate {@code tls} (null for a cluster run insecure), into {@code file}: each group is
   * copied from its leader after a linearizable read, so the file holds every write acknowledged
   * before the save began. Nothing is left at {@code file} if it fails.
   *
   * @throws RosterException if the cluster does not answer or refuses the certificate
   * @throws UncheckedIOException if the file cannot be written
   */
  public static Summary save(String cluster, Map<String, String> voters, Tls tls, Path file, Progress progress) {
    try {
      return summary(new SnapshotSaver(cluster, new MembershipAdmin(cluster, voters, tls)).save(file, adapt(progress)));
    } catch (IOException e) {
      throw new UncheckedIOException("saving into " + file + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * Seeds the empty data directory of voter {@code nodeId} of the new cluster {@code cluster} from
   * {@code file}; then start the voter as usual. Do it on every voter of the new cluster (or on a
   * majority, and start the others empty: they receive the state from the leader).
   *
   * @throws IllegalArgumentException if the data directory holds Raft state or a restore already,
   *     or belongs to another node or cluster
   * @throws UncheckedIOException naming what is wrong with the file (nothing is seeded then)
   */
  public static Summary restore(Path file, Path dataDir, String cluster, String nodeId, Progress progress) {
    try {
      return summary(SnapshotRestorer.restore(file, dataDir, cluster, nodeId, adapt(progress)));
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
  }

  /**
   * Reads and checks {@code file} (layout, checksums, digests, records) and says what it holds.
   *
   * @throws UncheckedIOException naming what is wrong with it
   */
  public static Summary inspect(Path file, Progress progress) {
    try {
      return summary(SnapshotArchive.check(file, adapt(progress)));
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
  }

  private static SnapshotArchive.Progress adapt(Progress p) {
    return p == null ? (g, r, b) -> { } : p::at;
  }

  private static Summary summary(SnapshotArchive.Contents c) {
    return new Summary(c.cluster(), Instant.ofEpochMilli(c.savedAtMillis()), c.groups().stream()
        .map(g -> new Group(g.label(), g.appliedIndex(), g.records(), g.digest())).toList(), c.bytes());
  }
}
