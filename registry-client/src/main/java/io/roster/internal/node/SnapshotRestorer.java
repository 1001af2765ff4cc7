package io.roster.internal.node;

import io.roster.backup.SnapshotArchive;
import io.roster.internal.transport.RatisWiring;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Seeds a new voter's data directory from a snapshot file ({@code roster snapshot restore}): the
 * directory must hold no Raft state; it is bound to the cluster and node, and each group's
 * snapshot waits in {@code restore/} until the voter's first start adopts it.
 */
public final class SnapshotRestorer {
  /** Under a data directory: the restored snapshots, by Raft group id, until their first start. */
  public static final String SEEDS = "restore";

  private SnapshotRestorer() {}

  /**
   * Checks {@code file} whole and seeds voter {@code nodeId} of cluster {@code cluster} in
   * {@code dataDir}, binding the directory to them; see {@link io.roster.Backup#restore}.
   *
   * @throws IllegalArgumentException for a bad id or cluster name, or a data directory in use
   * @throws IOException naming what is wrong with the file
   */
  public static SnapshotArchive.Contents restore(Path file, Path dataDir, String cluster, String nodeId,
      SnapshotArchive.Progress progress) throws IOException {
    String problem = io.roster.Pid.problem(nodeId, 1, 1);
    if (problem != null) {
      throw new IllegalArgumentException("node id: " + problem);
    }
    if (cluster == null || cluster.isEmpty() || cluster.length() > 64) {
      throw new IllegalArgumentException("the cluster name must be 1..64 characters");
    }
    Path raft = dataDir.resolve("raft");
    if (Files.isDirectory(raft)) {
      try (java.util.stream.Stream<Path> s = Files.list(raft)) {
        if (s.findAny().isPresent()) {
          throw new IllegalArgumentException("the data directory " + dataDir + " holds Raft state already: restore "
              + "into an empty directory (a new cluster)");
        }
      }
    }
    if (Files.exists(dataDir.resolve(SEEDS))) {
      throw new IllegalArgumentException("the data directory " + dataDir + " holds a restored snapshot already ("
          + dataDir.resolve(SEEDS) + "): start the node, or remove it to restore again");
    }
    DataDirIdentity.check(dataDir, cluster, nodeId);
    return SnapshotArchive.restore(file, dataDir.resolve(SEEDS), (registry, partition) -> (registry.isEmpty()
        ? RatisWiring.groupId(cluster) : RatisWiring.partitionGroupId(cluster, registry, partition)).getUuid()
        .toString(), progress);
  }
}
