package io.roster.backup;

import io.roster.proto.SnapshotGroup;
import io.roster.proto.SnapshotGroupEnd;
import io.roster.proto.SnapshotHeader;
import io.roster.proto.SnapshotPart;
import io.roster.proto.SnapshotRecords;
import io.roster.proto.SnapshotTrailer;
import io.roster.proto.StoreRecord;
import io.roster.store.Checkpoints;
import io.roster.store.StoreDigests;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The file of a cluster's saved state ({@code roster snapshot save}) and the seeding of a new
 * voter's data directory from it ({@code roster snapshot restore}); the layout is
 * {@code roster/v1/snapshot.proto}'s.
 *
 * <p>A restore reads the file once, checking as it goes everything a damaged or forged file could
 * get wrong: the layout, sizes, key order, each group's record count and digest, the records'
 * meaning (they must load as a state), the partition groups against the registries the cluster's
 * group describes, and the SHA-256 of the whole file. Only a file that passes all of it seeds
 * anything: each group becomes a verified snapshot, named by its group, in a {@code seeds}
 * directory that a voter's state machine adopts at its first start ({@link io.roster.ratis.RegistryStateMachine}).
 */
public final class SnapshotArchive {
  private SnapshotArchive() {}

  static final byte[] MAGIC = "ROSTER-SNAPSHOT\n".getBytes(StandardCharsets.US_ASCII);
  static final int FORMAT = 1;
  /** The largest part a file may hold (a part of records is at most {@link StoreCopies#PART_BYTES_MAX} of data). */
  static final int PART_BYTES_MAX = 8 << 20;
  /**
   * How far a restored cluster's log starts after the saved index: a node that lived through the
   * loss finds its cached revisions older than the restored history (it reloads) rather than
   * mixed with it, and lock tokens keep growing.
   */
  public static final long INDEX_GAP = 1_000_000_000L;
  /**
   * The term of a restored snapshot: the lowest valid one (Ratis takes a voter whose last entry
   * has term 0 for one with an empty log, and no such voter elects a leader).
   */
  public static final long SEED_TERM = 1;
  /**
   * The highest index a file's group may have: far beyond any real log (2^40 entries), and low
   * enough that the restored log, {@link #INDEX_GAP} later, has revisions for 2^51 more entries.
   */
  static final long INDEX_MAX = 1L << 40;

  /** What a file holds of one group, after it was written or checked. */
  public record Group(String registry, int partition, long appliedIndex, long records, String digest) {
    /** "cluster" or "registry#partition". */
    public String label() {
      return registry.isEmpty() ? "cluster" : registry + "#" + partition;
    }
  }

  /** What a file holds. */
  public record Contents(String cluster, long savedAtMillis, List<Group> groups, long bytes) {}

  /** Told of progress: the group being read or written, its records so far, and the file's bytes so far. */
  @FunctionalInterface
  public interface Progress {
    /** At {@code records} records of {@code group}, {@code bytes} into the file. */
    void at(String group, long records, long bytes);
  }

  // ---------------------------------------------------------------- writing

  /**
   * Writes a snapshot file: into {@code FILE.part}, moved to {@code FILE} only by {@link #finish}
   * (so a failed save leaves no file that looks whole). Not thread-safe.
   */
  public static final class Writer implements AutoCloseable {
    private final Path file;
    private final Path partial;
    private final OutputStream out;
    private final MessageDigest sha = sha256();
    private final List<Group> groups = new ArrayList<>();
    private final String cluster;
    private final long savedAt = System.currentTimeMillis();
    private long bytes;
    private SnapshotGroup group;
    private StoreDigests.Hasher digest;
    private long records;
    private byte[] lastKey;
    private boolean finished;

    /** Starts the file of cluster {@code cluster}'s state at {@code FILE.part}, with its header. */
    public Writer(Path file, String cluster) throws IOException {
      this.file = file;
      this.cluster = cluster;
      this.partial = file.resolveSibling(file.getFileName() + ".part");
      this.out = new BufferedOutputStream(Files.newOutputStream(partial), 1 << 16);
      write(MAGIC);
      part(SnapshotPart.newBuilder().setHeader(SnapshotHeader.newBuilder().setFormat(FORMAT).setCluster(cluster)
          .setSavedAtMillis(savedAt)).build());
    }

    /** Starts a group: the cluster's (registry empty) or a partition. */
    public void group(String registry, int partition, long appliedIndex, String voter) throws IOException {
      if (group != null) {
        throw new IllegalStateException("group " + label(group) + " is not ended");
      }
      group = SnapshotGroup.newBuilder().setRegistry(registry).setPartition(partition).setAppliedIndex(appliedIndex)
          .setVoter(voter).build();
      digest = new StoreDigests.Hasher();
      records = 0;
      lastKey = null;
      part(SnapshotPart.newBuilder().setGroup(group).build());
    }

    /** Adds records of the group, in key order after those added before. */
    public void records(List<StoreRecord> batch) throws IOException {
      if (group == null) {
        throw new IllegalStateException("records outside a group");
      }
      for (StoreRecord r : batch) {
        byte[] key = r.getKey().toByteArray();
        if (lastKey != null && Arrays.compareUnsigned(lastKey, key) >= 0) {
          throw new IOException("the voter sent the records of " + label(group) + " out of key order");
        }
        lastKey = key;
        digest.add(key, r.getValue().toByteArray());
      }
      records += batch.size();
      part(SnapshotPart.newBuilder().setRecords(SnapshotRecords.newBuilder().addAllRecords(batch)).build());
    }

    /** Ends the group; {@code voterDigest} is the digest the voter computed of the state it sent. */
    public Group groupEnd(String voterDigest) throws IOException {
      String ours = digest.hex();
      if (!ours.equals(voterDigest)) {
        throw new IOException("the records of " + label(group) + " digest to " + ours + ", but the voter says "
            + voterDigest + ": the copy was damaged on the way");
      }
      part(SnapshotPart.newBuilder().setGroupEnd(SnapshotGroupEnd.newBuilder().setRecords(records)
          .setDigest(ours)).build());
      Group g = new Group(group.getRegistry(), group.getPartition(), group.getAppliedIndex(), records, ours);
      groups.add(g);
      group = null;
      return g;
    }

    /** The records of the current group so far. */
    public long records() {
      return records;
    }

    /** The bytes written so far. */
    public long bytes() {
      return bytes;
    }

    /** Writes the trailer, forces the file to disk and moves it to its name. */
    public Contents finish() throws IOException {
      if (group != null) {
        throw new IllegalStateException("group " + label(group) + " is not ended");
      }
      byte[] body = SnapshotPart.newBuilder().setTrailer(SnapshotTrailer.newBuilder().setGroups(groups.size())
          .setSha256(com.google.protobuf.ByteString.copyFrom(sha.digest()))).build().toByteArray();
      ByteArrayOutputStream framed = new ByteArrayOutputStream(body.length + 5);
      com.google.protobuf.CodedOutputStream c = com.google.protobuf.CodedOutputStream.newInstance(framed);
      c.writeUInt32NoTag(body.length);
      c.flush();
      framed.write(body);
      out.write(framed.toByteArray());
      bytes += framed.size();
      out.flush();
      out.close();
      try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(partial,
          java.nio.file.StandardOpenOption.WRITE)) {
        ch.force(true);
      }
      Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      Checkpoints.fsync(file.toAbsolutePath().getParent());
      finished = true;
      return new Contents(cluster, savedAt, List.copyOf(groups), bytes);
    }

    private void part(SnapshotPart p) throws IOException {
      ByteArrayOutputStream framed = new ByteArrayOutputStream(p.getSerializedSize() + 5);
      p.writeDelimitedTo(framed);
      if (framed.size() > PART_BYTES_MAX) {
        throw new IOException("a part of " + framed.size() + " bytes is over the format's " + PART_BYTES_MAX);
      }
      write(framed.toByteArray());
    }

    private void write(byte[] b) throws IOException {
      sha.update(b);
      out.write(b);
      bytes += b.length;
    }

    /** Closes the file; unless finished, deletes it. */
    @Override
    public void close() throws IOException {
      if (!finished) {
        out.close();
        Files.deleteIfExists(partial);
      }
    }
  }

  // ---------------------------------------------------------------- reading

  /** Names the directory of a group in the seeds: the Raft group id of the cluster's group or of a partition. */
  @FunctionalInterface
  public interface GroupNames {
    /** The directory name of the cluster's group (registry empty) or of a partition's group. */
    String of(String registry, int partition);
  }

  /**
   * Checks {@code file} and seeds {@code seeds} (which must not exist) with a verified snapshot per
   * group, at the saved index plus {@link #INDEX_GAP}. Nothing is left in {@code seeds} unless the
   * whole file checks.
   *
   * @throws IOException naming what is wrong with the file, or why the seeds cannot be written
   */
  public static Contents restore(Path file, Path seeds, GroupNames names, Progress progress) throws IOException {
    if (Files.exists(seeds)) {
      throw new IOException(seeds + " exists: a restore was run before into this data directory");
    }
    Path work = seeds.resolveSibling(seeds.getFileName() + ".tmp");
    Checkpoints.deleteTree(work);
    Files.createDirectories(work);
    try {
      Contents contents = read(file, work, names, progress);
      fsyncTree(work);
      Files.move(work, seeds, StandardCopyOption.ATOMIC_MOVE);
      Checkpoints.fsync(seeds.getParent());
      return contents;
    } finally {
      Checkpoints.deleteTree(work);
    }
  }

  /** Reads and checks {@code file} without seeding anything. */
  public static Contents check(Path file, Progress progress) throws IOException {
    return read(file, null, (r, p) -> r + "#" + p, progress);
  }

  private static Contents read(Path file, Path work, GroupNames names, Progress progress) throws IOException {
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
      SnapshotReader r = new SnapshotReader(file, in);
      return r.readAll(work, names, progress);
    }
  }

  /** Forces every file and directory under {@code root} to disk. */
  private static void fsyncTree(Path root) throws IOException {
    try (java.util.stream.Stream<Path> all = Files.walk(root)) {
      for (Path p : all.toList()) {
        Checkpoints.fsync(p);
      }
    }
  }

  static String label(SnapshotGroup g) {
    return g.getRegistry().isEmpty() ? "cluster" : g.getRegistry() + "#" + g.getPartition();
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
