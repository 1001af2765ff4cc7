package io.roster.ratis;

import io.roster.backup.SnapshotArchive;
import io.roster.store.Checkpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotRetentionPolicy;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.impl.FileListSnapshotInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Snapshots as RocksDB checkpoints: each snapshot is a directory {@code snapshot.<term>_<index>}
 * under Ratis' state machine directory ({@code sm/}), holding a complete checkpoint of the store.
 *
 * <p>Ratis ships the files of the latest snapshot to a lagging follower and, when the last chunk
 * arrives, replaces the follower's whole {@code sm/} directory with them. The live database is
 * therefore kept outside {@code sm/} (see {@link RegistryStateMachine}) and is rebuilt from the
 * installed checkpoint. A snapshot is published by renaming a finished temporary directory, so a
 * crash never leaves a partial snapshot under a snapshot name. {@code *.md5} files, which the
 * installer writes beside received files, are not part of a snapshot.
 */
final class CheckpointSnapshotStorage implements StateMachineStorage {
  private static final Logger LOG = LoggerFactory.getLogger(CheckpointSnapshotStorage.class);
  private static final Pattern NAME = Pattern.compile("snapshot\\.(\\d+)_(\\d+)");
  private static final String TMP_PREFIX = "tmp.";
  /** Snapshots kept besides the newest; older ones are deleted after each new snapshot. */
  static final int RETAINED_DEFAULT = 2;

  private volatile Path smDir;
  private volatile FileListSnapshotInfo latest;
  private volatile RaftStorage raftStorage;

  @Override
  public void init(RaftStorage raftStorage) throws IOException {
    this.raftStorage = raftStorage;
    smDir = raftStorage.getStorageDir().getStateMachineDir().toPath();
    Files.createDirectories(smDir);
    deleteTemporaries();
    reload();
  }

  /**
   * Makes the restored snapshot waiting in {@code seed} (if that directory exists) this group's
   * first snapshot: only while the group has no state of its own (no snapshot, no log, no store in
   * {@code dbDir}), which is so at its first start after {@code roster snapshot restore}. A start
   * after a crash between the rename and the removal of {@code seed} finishes the adoption.
   */
  void adopt(Path seed, Path dbDir) throws IOException {
    if (!Files.isDirectory(seed)) {
      return;
    }
    List<Path> found;
    try (java.util.stream.Stream<Path> s = Files.list(seed)) {
      found = s.filter(p -> p.getFileName().toString().matches("snapshot\\." + SnapshotArchive.SEED_TERM + "_\\d+"))
          .toList();
    }
    if (found.isEmpty() && latest != null) {
      // adopted before a crash that came before the seed's directory was removed
      Checkpoints.deleteTree(seed);
      return;
    }
    if (found.size() != 1) {
      throw new IOException("the restored seed " + seed + " holds " + found.size() + " snapshots, not one: restore "
          + "again into an empty data directory");
    }
    Path current = raftStorage.getStorageDir().getCurrentDir().toPath();
    boolean hasLog;
    try (java.util.stream.Stream<Path> s = Files.list(current)) {
      hasLog = s.anyMatch(p -> p.getFileName().toString().startsWith("log_"));
    }
    if (latest != null || hasLog || Files.exists(dbDir.resolve("CURRENT"))) {
      throw new IOException("this group has state of its own in " + raftStorage.getStorageDir().getRoot()
          + " and a restored snapshot waiting in " + seed + ": restore only into an empty data directory");
    }
    Path target = smDir.resolve(found.get(0).getFileName());
    Files.move(found.get(0), target, StandardCopyOption.ATOMIC_MOVE);
    Checkpoints.fsync(smDir); // the move is durable before the seed goes
    Checkpoints.fsync(seed);
    Checkpoints.deleteTree(seed);
    reload();
    LOG.info("starts from the restored snapshot {}", target);
  }

  /** Re-reads the snapshots on disk (after Ratis installed one from the leader). */
  void reload() throws IOException {
    latest = scan();
  }

  @Override
  public FileListSnapshotInfo getLatestSnapshot() {
    return latest;
  }

  /** The directory of the latest snapshot, or null. */
  Path latestDir() {
    FileListSnapshotInfo s = latest;
    return s == null ? null : dirOf(s.getTermIndex());
  }

  @Override
  public void format() {
    // Nothing to format: the directory is created by init.
  }

  /** A fresh temporary directory path (not created) for a checkpoint in progress. */
  Path newTemporary() {
    return smDir.resolve(TMP_PREFIX + System.nanoTime());
  }

  /** Publishes a finished checkpoint in {@code tmp} as the snapshot at {@code termIndex}. */
  void publish(Path tmp, TermIndex termIndex) throws IOException {
    Path target = dirOf(termIndex);
    if (Files.exists(target)) {
      Checkpoints.deleteTree(tmp); // the same snapshot was taken before
    } else {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
    }
    latest = info(target, termIndex);
    LOG.info("snapshot {} taken in {}", termIndex, target);
  }

  @Override
  public void cleanupOldSnapshots(SnapshotRetentionPolicy policy) throws IOException {
    int retained = policy == null || policy.getNumSnapshotsRetained() <= 0
        ? RETAINED_DEFAULT
        : policy.getNumSnapshotsRetained();
    List<Path> all = snapshotDirs();
    for (int i = 0; i < all.size() - retained; i++) {
      Checkpoints.deleteTree(all.get(i));
    }
  }

  private Path dirOf(TermIndex ti) {
    return smDir.resolve("snapshot." + ti.getTerm() + "_" + ti.getIndex());
  }

  private FileListSnapshotInfo scan() throws IOException {
    List<Path> all = snapshotDirs();
    for (int i = all.size() - 1; i >= 0; i--) {
      Path dir = all.get(i);
      if (Files.exists(dir.resolve("CURRENT"))) {
        return info(dir, termIndexOf(dir));
      }
      LOG.warn("ignoring incomplete snapshot {}", dir);
    }
    return null;
  }

  /** Snapshot directories, oldest first. */
  private List<Path> snapshotDirs() throws IOException {
    List<Path> dirs = new ArrayList<>();
    try (Stream<Path> s = Files.list(smDir)) {
      s.filter(p -> Files.isDirectory(p) && NAME.matcher(p.getFileName().toString()).matches()).forEach(dirs::add);
    }
    dirs.sort(Comparator.comparing(CheckpointSnapshotStorage::termIndexOf));
    return dirs;
  }

  private static TermIndex termIndexOf(Path dir) {
    Matcher m = NAME.matcher(dir.getFileName().toString());
    if (!m.matches()) {
      throw new IllegalArgumentException("not a snapshot directory: " + dir);
    }
    return TermIndex.valueOf(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)));
  }

  private static FileListSnapshotInfo info(Path dir, TermIndex ti) throws IOException {
    List<FileInfo> files = new ArrayList<>();
    for (Path f : Checkpoints.checkpointFiles(dir)) {
      files.add(new FileInfo(f.toAbsolutePath(), null)); // the leader computes the digest while sending
    }
    return new FileListSnapshotInfo(files, ti);
  }

  private void deleteTemporaries() throws IOException {
    try (Stream<Path> s = Files.list(smDir)) {
      for (Path p : s.filter(p -> p.getFileName().toString().startsWith(TMP_PREFIX)).toList()) {
        Checkpoints.deleteTree(p);
      }
    }
  }
}
