package io.roster.backup;

import io.roster.mirror.Mirror;
import io.roster.proto.SnapshotGroup;
import io.roster.proto.SnapshotGroupEnd;
import io.roster.proto.SnapshotHeader;
import io.roster.proto.SnapshotPart;
import io.roster.proto.SnapshotTrailer;
import io.roster.proto.StoreRecord;
import io.roster.schema.Limits;
import io.roster.schema.RegistryDescriptor;
import io.roster.store.Checkpoints;
import io.roster.store.CorruptStoreException;
import io.roster.store.RocksStore;
import io.roster.store.StoreDigests;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads a snapshot file once ({@link SnapshotArchive#restore}, {@link SnapshotArchive#check}),
 * checking as it goes everything a damaged or forged file could get wrong, and seeding each group's
 * checkpoint when it is given a directory to seed. Not thread-safe; one per file read.
 */
final class SnapshotReader {
  private final Path file;
  private final InputStream in;
  private final MessageDigest sha = SnapshotArchive.sha256();
  private long bytes;

  SnapshotReader(Path file, InputStream in) {
    this.file = file;
    this.in = in;
  }

  SnapshotArchive.Contents readAll(Path work, SnapshotArchive.GroupNames names, SnapshotArchive.Progress progress) throws IOException {
    byte[] magic = in.readNBytes(SnapshotArchive.MAGIC.length);
    if (!Arrays.equals(magic, SnapshotArchive.MAGIC)) {
      throw bad("it is not a Roster snapshot file (it does not start with " + new String(SnapshotArchive.MAGIC,
          StandardCharsets.US_ASCII).trim() + ")");
    }
    sha.update(magic);
    bytes += magic.length;
    SnapshotPart first = next(false);
    if (!first.hasHeader()) {
      throw bad("its first part is not a header");
    }
    SnapshotHeader header = first.getHeader();
    if (header.getFormat() != SnapshotArchive.FORMAT) {
      throw bad("it has format " + header.getFormat() + "; this build reads format " + SnapshotArchive.FORMAT);
    }
    List<SnapshotArchive.Group> groups = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    Set<String> described = null; // partition groups the cluster's group describes
    while (true) {
      SnapshotPart p = next(true);
      if (p.hasTrailer()) {
        if (groups.isEmpty()) {
          throw bad("it holds no group: the cluster's group comes first");
        }
        checkTrailer(p.getTrailer(), groups.size());
        break;
      }
      if (!p.hasGroup()) {
        throw bad("a " + p.getKindCase() + " part where a group or the trailer belongs");
      }
      SnapshotGroup g = p.getGroup();
      String label = SnapshotArchive.label(g);
      if (groups.isEmpty() != g.getRegistry().isEmpty()) {
        throw bad(groups.isEmpty() ? "its first group is not the cluster's" : "a second cluster group");
      }
      if (!g.getRegistry().isEmpty() && (described == null || !described.contains(label))) {
        throw bad("group " + label + " is not a partition of a registry its cluster group describes");
      }
      if (g.getAppliedIndex() <= 0 || g.getAppliedIndex() > SnapshotArchive.INDEX_MAX) {
        throw bad("group " + label + " is at index " + Long.toUnsignedString(g.getAppliedIndex()) + " (1.." + SnapshotArchive.INDEX_MAX
            + ")");
      }
      if (!seen.add(label)) {
        throw bad("group " + label + " twice");
      }
      GroupRead read = readGroup(g, work == null ? null : work.resolve(names.of(g.getRegistry(), g.getPartition())),
          progress);
      groups.add(read.group());
      if (described == null) {
        described = read.partitionGroups();
        if (described.size() > Limits.PARTITION_GROUPS_MAX) {
          throw bad("its cluster group describes " + described.size() + " partition groups (at most "
              + Limits.PARTITION_GROUPS_MAX + ")");
        }
      }
    }
    if (in.read() != -1) {
      throw bad("bytes after its trailer");
    }
    Set<String> partitions = new HashSet<>(seen);
    partitions.remove("cluster");
    if (described != null && !described.equals(partitions)) {
      Set<String> missing = new java.util.TreeSet<>(described);
      missing.removeAll(partitions);
      Set<String> extra = new java.util.TreeSet<>(partitions);
      extra.removeAll(described);
      throw bad("its partition groups do not match the registries its cluster group describes (missing " + missing
          + ", not described " + extra + ")");
    }
    return new SnapshotArchive.Contents(header.getCluster(), header.getSavedAtMillis(), List.copyOf(groups), bytes);
  }

  private record GroupRead(SnapshotArchive.Group group, Set<String> partitionGroups) {}

  private GroupRead readGroup(SnapshotGroup g, Path dir, SnapshotArchive.Progress progress) throws IOException {
    String label = SnapshotArchive.label(g);
    StoreDigests.Hasher digest = new StoreDigests.Hasher();
    String digested;
    long records = 0;
    byte[] last = null;
    Path storeDir = dir == null ? Files.createTempDirectory("roster-check") : dir.resolve("store");
    long index = g.getAppliedIndex() + SnapshotArchive.INDEX_GAP;
    try (RocksStore store = RocksStore.open(storeDir)) {
      while (true) {
        SnapshotPart p = next(true);
        if (p.hasGroupEnd()) {
          SnapshotGroupEnd end = p.getGroupEnd();
          digested = digest.hex();
          if (end.getRecords() != records || !end.getDigest().equals(digested)) {
            throw bad("group " + label + " holds " + records + " records of digest " + digested
                + ", but its end says " + end.getRecords() + " of " + end.getDigest());
          }
          break;
        }
        if (!p.hasRecords()) {
          throw bad("a " + p.getKindCase() + " part inside group " + label);
        }
        List<StoreRecord> batch = p.getRecords().getRecordsList();
        for (StoreRecord rec : batch) {
          byte[] key = rec.getKey().toByteArray();
          if (last != null && Arrays.compareUnsigned(last, key) >= 0) {
            throw bad("the records of group " + label + " are out of key order");
          }
          last = key;
          digest.add(key, rec.getValue().toByteArray());
        }
        try {
          store.importRecords(batch);
        } catch (IllegalArgumentException e) {
          throw bad(e.getMessage());
        }
        records += batch.size();
        progress.at(label, records, bytes);
      }
      store.markApplied(SnapshotArchive.SEED_TERM, index);
      Mirror state;
      try {
        state = store.load(); // every record must mean something
      } catch (CorruptStoreException e) {
        throw bad("group " + label + " holds records that do not load as a state: " + e.getMessage());
      }
      Set<String> partitionGroups = new HashSet<>();
      if (g.getRegistry().isEmpty()) {
        for (RegistryDescriptor d : state.registries()) {
          for (int i = 0; d.partitions() > 1 && i < d.partitions(); i++) {
            partitionGroups.add(d.name() + "#" + i);
          }
        }
      }
      if (dir != null) {
        Path snapshot = dir.resolve("snapshot." + SnapshotArchive.SEED_TERM + "_" + index);
        store.checkpoint(snapshot);
        RocksStore.Verified verified = RocksStore.verify(snapshot);
        if (!verified.digest().equals(digested) || verified.appliedIndex() != index) {
          throw new IOException("the seed of group " + label + " in " + snapshot + " does not verify (index "
              + verified.appliedIndex() + ", digest " + verified.digest() + ")");
        }
        Checkpoints.writeDigest(snapshot, verified);
      }
      return new GroupRead(new SnapshotArchive.Group(g.getRegistry(), g.getPartition(), g.getAppliedIndex(), records, digested),
          partitionGroups);
    } finally {
      Checkpoints.deleteTree(storeDir);
    }
  }

  private void checkTrailer(SnapshotTrailer t, int groups) throws IOException {
    byte[] ours = sha.digest();
    if (!Arrays.equals(ours, t.getSha256().toByteArray())) {
      throw bad("its SHA-256 is " + java.util.HexFormat.of().formatHex(ours) + ", not the "
          + java.util.HexFormat.of().formatHex(t.getSha256().toByteArray()) + " its trailer names: it is damaged");
    }
    if (t.getGroups() != groups) {
      throw bad("it holds " + groups + " groups, not the " + t.getGroups() + " its trailer names");
    }
  }

  /** The next part; the bytes of every part but the trailer go into the file's SHA-256. */
  private SnapshotPart next(boolean trailerAllowed) throws IOException {
    // the size: a varint of at most 5 bytes, kept as read (it goes into the SHA-256 as it is)
    byte[] prefix = new byte[5];
    int n = 0;
    long size = 0;
    while (true) {
      int b = in.read();
      if (b == -1) {
        throw bad(n == 0 ? "it ends early (after " + bytes + " bytes): it is truncated"
            : "it ends inside a part's size: it is truncated");
      }
      if (n == prefix.length) {
        throw bad("a part's size at byte " + bytes + " does not decode");
      }
      prefix[n] = (byte) b;
      size |= (long) (b & 0x7F) << (7 * n);
      n++;
      if ((b & 0x80) == 0) {
        break;
      }
    }
    if (size > SnapshotArchive.PART_BYTES_MAX) {
      throw bad("a part of " + size + " bytes at byte " + bytes + " (at most " + SnapshotArchive.PART_BYTES_MAX + ")");
    }
    byte[] body = in.readNBytes((int) size);
    if (body.length < size) {
      throw bad("it ends inside a part (at byte " + (bytes + n + body.length) + "): it is truncated");
    }
    SnapshotPart p;
    try {
      p = SnapshotPart.parseFrom(body);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw bad("the part at byte " + bytes + " does not decode: " + e.getMessage());
    }
    if (!p.hasTrailer()) {
      sha.update(prefix, 0, n);
      sha.update(body);
    } else if (!trailerAllowed) {
      throw bad("a trailer where the header belongs");
    }
    bytes += n + size;
    return p;
  }

  private IOException bad(String why) {
    return new IOException("snapshot file " + file + " is refused: " + why);
  }
}
