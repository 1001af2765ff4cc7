package io.roster.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoints of a store on disk, as files: the digest file a snapshot carries and its check, the
 * rebuild of a live store from a checkpoint, forcing to disk and deleting trees. No Raft here:
 * snapshots ({@link io.roster.ratis.CheckpointSnapshotStorage}) and backups ({@link io.roster.backup.SnapshotArchive}) both use it.
 */
public final class Checkpoints {
  private static final Logger LOG = LoggerFactory.getLogger(Checkpoints.class);

  private Checkpoints() {}

  /** The file in a snapshot that names the applied index and the digest of the state it holds. */
  static final String DIGEST_FILE = "roster-digest";

  /** Writes {@code verified} into the checkpoint {@code dir} as its digest file. */
  public static void writeDigest(Path dir, RocksStore.Verified verified) throws IOException {
    Files.writeString(dir.resolve(DIGEST_FILE), "index=" + verified.appliedIndex() + "\nsha256=" + verified.digest()
        + "\n", java.nio.charset.StandardCharsets.UTF_8);
  }

  /**
   * Checks the snapshot in {@code dir}: every block's checksum, and its state against the digest it
   * carries (a snapshot taken before digests were written is checked for checksums only).
   *
   * @throws CorruptStoreException if a checksum fails or the state is not the one its digest names
   */
  public static RocksStore.Verified verify(Path dir) throws IOException {
    RocksStore.Verified found = RocksStore.verify(dir);
    Path file = dir.resolve(DIGEST_FILE);
    if (!Files.exists(file)) {
      LOG.info("snapshot {} carries no digest (an earlier version took it); its checksums verify", dir);
      return found;
    }
    java.util.Properties p = new java.util.Properties();
    try (java.io.Reader r = Files.newBufferedReader(file)) {
      p.load(r);
    }
    String index = p.getProperty("index");
    String digest = p.getProperty("sha256");
    if (!String.valueOf(found.appliedIndex()).equals(index) || !found.digest().equals(digest)) {
      throw new CorruptStoreException(dir, "its state (index " + found.appliedIndex() + ", sha256 " + found.digest()
          + ") is not the one its " + DIGEST_FILE + " names (index " + index + ", sha256 " + digest + ")", null);
    }
    return found;
  }

  /** The files of a checkpoint directory, without the installer's {@code .md5} files. */
  public static List<Path> checkpointFiles(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().endsWith(".md5")).sorted()
          .toList();
    }
  }

  /**
   * Replaces {@code live} with a copy of the checkpoint in {@code snapshot}: SST files are hard
   * linked (RocksDB never changes them), the rest copied. Crash-safe: the copy is made beside
   * {@code live} and renamed into place; a missing {@code live} is rebuilt at the next start.
   */
  public static void restore(Path snapshot, Path live) throws IOException {
    Path fresh = live.resolveSibling(live.getFileName() + ".restore");
    Path old = live.resolveSibling(live.getFileName() + ".old");
    deleteTree(fresh);
    deleteTree(old);
    Files.createDirectories(fresh);
    for (Path f : checkpointFiles(snapshot)) {
      if (f.getFileName().toString().equals(DIGEST_FILE)) {
        continue; // the snapshot's, not the store's
      }
      Path target = fresh.resolve(f.getFileName());
      if (f.getFileName().toString().endsWith(".sst")) {
        try {
          Files.createLink(target, f);
          continue;
        } catch (IOException | UnsupportedOperationException e) {
          // fall back to a copy (another file system, or links not supported)
        }
      }
      Files.copy(f, target, StandardCopyOption.COPY_ATTRIBUTES);
      fsync(target);
    }
    fsync(fresh);
    if (Files.exists(live)) {
      Files.move(live, old, StandardCopyOption.ATOMIC_MOVE);
    }
    Files.move(fresh, live, StandardCopyOption.ATOMIC_MOVE);
    fsync(live.getParent());
    deleteTree(old);
  }

  /** Deletes a directory and everything in it; nothing if it does not exist. */
  public static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> s = Files.walk(root)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /** Forces a file, or a directory's entries, to disk (some file systems cannot sync a directory). */
  public static void fsync(Path path) throws IOException {
    try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(path, java.nio.file.StandardOpenOption.READ)) {
      c.force(true);
    } catch (IOException e) {
      if (!Files.isDirectory(path)) {
        throw e;
      }
    }
  }
}
