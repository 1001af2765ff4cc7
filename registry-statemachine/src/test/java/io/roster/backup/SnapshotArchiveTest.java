package io.roster.backup;

import static io.roster.schema.Commands.createRegistry;
import static io.roster.schema.Commands.openSession;
import static io.roster.schema.Commands.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.roster.Pid;
import io.roster.apply.Replica;
import io.roster.proto.Command;
import io.roster.proto.KeyMode;
import io.roster.proto.QueryResult;
import io.roster.proto.Status;
import io.roster.proto.StoreRecord;
import io.roster.schema.Codec;
import io.roster.store.Checkpoints;
import io.roster.store.RocksStore;
import io.roster.store.StoreCopies;
import io.roster.store.StoreDigests;
import io.roster.store.StoreKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Store copies (what a leader hands out for a backup) and snapshot files: a copy is one
 * point-in-time view in parts, a file restores to exactly the state copied, and a damaged, cut
 * or forged file is refused whole and seeds nothing.
 */
class SnapshotArchiveTest {
  static final Pid A = Pid.of("n1", 1, 1);

  @TempDir Path dir;
  Replica replica;
  long index;

  @BeforeEach
  void open() throws Exception {
    replica = Replica.open(dir.resolve("db"));
    apply(openSession("n1", 1), createRegistry("u", KeyMode.UNIQUE), createRegistry("d", KeyMode.DUPLICATE));
    byte[] value = new byte[16 * 1024 - 64];
    new Random(7).nextBytes(value);
    // about 6.4 MB of values: a copy of more than one part
    for (int i = 0; i < 400; i += 50) {
      List<Command> batch = new ArrayList<>();
      for (int j = i; j < i + 50; j++) {
        batch.add(register(j % 2 == 0 ? "u" : "d", "key-" + j, value, A));
      }
      apply(batch.toArray(Command[]::new));
    }
  }

  @AfterEach
  void close() {
    replica.close();
  }

  void apply(Command... commands) {
    replica.applyEntry(ByteString.copyFrom(Codec.encode(commands)), 1, ++index);
  }

  /** Copies the store as a leader would hand it out, part by part, into a snapshot file. */
  Path save(String name) throws IOException {
    Path file = dir.resolve(name);
    try (SnapshotArchive.Writer w = new SnapshotArchive.Writer(file, "roster")) {
      copyInto(w);
      w.finish();
    }
    return file;
  }

  /** Adds the store, as the cluster's group, to {@code w}. */
  void copyInto(SnapshotArchive.Writer w) throws IOException {
    QueryResult r = replica.store().copyFirst(41, index);
    w.group("", 0, r.getAppliedIndex(), "n1");
    for (int part = 0; ; part++) {
      w.records(r.getRecordsList());
      if (r.getLast()) {
        w.groupEnd(r.getDigest());
        return;
      }
      r = replica.store().copyPart(r.getDumpId(), part + 1);
    }
  }

  @Test
  void aCopyIsOnePointInTimeViewInPartsAskedForInOrder() throws Exception {
    // a writer's last entry is the log's bookkeeping: neither in the copy nor in its digest
    replica.applyEntry(ByteString.copyFrom(Codec.encode(Codec.batchOf(List.of(register("u", "tagged", new byte[8], A)),
        "n1", 5, 1))), 1, ++index);
    String before = replica.store().digest();
    TreeSet<String> state = replica.mirror().describe();
    assertThat(replica.store().copyFirst(0, index).getStatus()).isEqualTo(Status.INVALID_ARGUMENT); // no id
    QueryResult first = replica.store().copyFirst(42, index);
    assertThat(first.getStatus()).isEqualTo(Status.OK);
    assertThat(replica.store().copyFirst(42, index)).as("a retried start").isEqualTo(first);
    assertThat(first.getLast()).isFalse();
    long id = first.getDumpId();
    apply(register("u", "written-after-the-copy-began", new byte[8], A)); // not in the copy

    assertThat(replica.store().copyPart(id, 0)).isEqualTo(first); // asked again: answered again
    assertThat(replica.store().copyPart(id, 2).getStatus()).isEqualTo(Status.INVALID_ARGUMENT); // skipping
    assertThat(replica.store().copyPart(id + 1, 1).getStatus()).isEqualTo(Status.COMPACTED); // another id

    List<StoreRecord> records = new ArrayList<>(first.getRecordsList());
    QueryResult r = first;
    for (int part = 1; !r.getLast(); part++) {
      r = replica.store().copyPart(id, part);
      assertThat(r.getStatus()).isEqualTo(Status.OK);
      assertThat(r.getSerializedSize()).isLessThan(StoreCopies.PART_BYTES_MAX + 64 * 1024);
      records.addAll(r.getRecordsList());
    }
    assertThat(r.getDigest()).isEqualTo(before);
    assertThat(records).noneMatch(rec -> StoreKeys.bookkeeping(rec.getKey().toByteArray()));
    assertThat(records).noneMatch(rec -> rec.getKey().byteAt(0) == 'W');
    assertThat(records.stream().map(rec -> rec.getKey().toStringUtf8())).anyMatch(k -> k.contains("tagged"));
    assertThat(records.stream().map(rec -> rec.getKey().toStringUtf8()))
        .noneMatch(k -> k.contains("written-after-the-copy-began"));
    assertThat(state).isNotEqualTo(replica.mirror().describe());
  }

  @Test
  void aFileRestoresToExactlyTheStateCopied() throws Exception {
    TreeSet<String> state = replica.mirror().describe();
    String digest = replica.store().digest();
    Path file = save("roster.snap");

    SnapshotArchive.Contents contents = SnapshotArchive.restore(file, dir.resolve("seeds"), (r, p) -> "cluster", (g, n, b) -> { });
    assertThat(contents.groups()).singleElement().satisfies(g -> {
      assertThat(g.appliedIndex()).isEqualTo(index);
      assertThat(g.digest()).isEqualTo(digest);
    });
    Path seed = dir.resolve("seeds").resolve("cluster")
        .resolve("snapshot." + SnapshotArchive.SEED_TERM + "_" + (index + SnapshotArchive.INDEX_GAP));
    RocksStore.Verified verified = Checkpoints.verify(seed);
    assertThat(verified.digest()).isEqualTo(digest);
    assertThat(verified.appliedIndex()).isEqualTo(index + SnapshotArchive.INDEX_GAP);
    try (RocksStore restored = RocksStore.open(seed)) {
      assertThat(restored.load().describe()).isEqualTo(state);
    }
    assertThat(dir.resolve("seeds.tmp")).doesNotExist();
    // a second restore into the same seeds is refused
    assertThatThrownBy(() -> SnapshotArchive.restore(file, dir.resolve("seeds"), (r, p) -> "cluster", (g, n, b) -> { }))
        .isInstanceOf(IOException.class).hasMessageContaining("exists");
  }

  @Test
  void aFlippedByteOrACutAnywhereIsRefusedAndSeedsNothing() throws Exception {
    replica.close();
    replica = Replica.open(dir.resolve("small"));
    index = 0;
    apply(openSession("n1", 1), createRegistry("u", KeyMode.UNIQUE), register("u", "k", new byte[] {1, 2, 3}, A));
    byte[] whole = Files.readAllBytes(save("small.snap"));
    Path bad = dir.resolve("bad.snap");
    Random random = new Random(11);
    for (int i = 0; i < whole.length; i += 1 + random.nextInt(6)) {
      byte[] flipped = whole.clone();
      flipped[i] ^= (byte) (1 << random.nextInt(8));
      Files.write(bad, flipped);
      assertRefused(bad, "flip at byte " + i);
    }
    for (int length = 0; length < whole.length; length += 1 + random.nextInt(6)) {
      Files.write(bad, Arrays.copyOf(whole, length));
      assertRefused(bad, "cut at byte " + length);
    }
    byte[] longer = Arrays.copyOf(whole, whole.length + 1);
    Files.write(bad, longer);
    assertRefused(bad, "a byte after the trailer");
  }

  @Test
  void aPartitionGroupTheClusterGroupDoesNotDescribeIsRefused() throws Exception {
    Path file = dir.resolve("forged.snap");
    try (SnapshotArchive.Writer w = new SnapshotArchive.Writer(file, "roster")) {
      copyInto(w);
      w.group("ghost", 0, 5, "n1");
      w.groupEnd(new StoreDigests.Hasher().hex());
      w.finish();
    }
    assertThatThrownBy(() -> SnapshotArchive.check(file, (g, n, b) -> { })).isInstanceOf(IOException.class)
        .hasMessageContaining("not a partition of a registry its cluster group describes").hasMessageContaining("ghost#0");
  }

  @Test
  void aFileWithoutTheClusterGroupOrWithAnIndexOutOfRangeIsRefused() throws Exception {
    Path empty = dir.resolve("empty.snap");
    try (SnapshotArchive.Writer w = new SnapshotArchive.Writer(empty, "roster")) {
      w.finish();
    }
    assertThatThrownBy(() -> SnapshotArchive.check(empty, (g, n, b) -> { })).hasMessageContaining("holds no group");
    Path far = dir.resolve("far.snap");
    try (SnapshotArchive.Writer w = new SnapshotArchive.Writer(far, "roster")) {
      w.group("", 0, SnapshotArchive.INDEX_MAX + 1, "n1");
      w.groupEnd(new StoreDigests.Hasher().hex());
      w.finish();
    }
    assertThatThrownBy(() -> SnapshotArchive.check(far, (g, n, b) -> { })).hasMessageContaining("at index");
  }

  @Test
  void recordsOutOfOrderOrADigestThatDiffersAreNotWritten() throws Exception {
    try (SnapshotArchive.Writer w = new SnapshotArchive.Writer(dir.resolve("x.snap"), "roster")) {
      w.group("", 0, 1, "n1");
      StoreRecord b = StoreRecord.newBuilder().setKey(ByteString.copyFromUtf8("Sb")).build();
      StoreRecord a = StoreRecord.newBuilder().setKey(ByteString.copyFromUtf8("Sa")).build();
      assertThatThrownBy(() -> w.records(List.of(b, a))).hasMessageContaining("out of key order");
    }
    try (SnapshotArchive.Writer w = new SnapshotArchive.Writer(dir.resolve("y.snap"), "roster")) {
      w.group("", 0, 1, "n1");
      assertThatThrownBy(() -> w.groupEnd("00")).hasMessageContaining("damaged on the way");
    }
    try (Stream<Path> left = Files.list(dir)) {
      assertThat(left.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith("x.snap") || n.startsWith("y.snap"));
    }
  }

  @Test
  void copiesEndWithTheirStore() throws Exception {
    QueryResult first = replica.store().copyFirst(43, index);
    replica.close();
    assertThat(replica.store().copyPart(first.getDumpId(), 1).getStatus()).isEqualTo(Status.COMPACTED);
    replica = Replica.open(dir.resolve("db"));
  }

  private void assertRefused(Path file, String what) {
    Path seeds = dir.resolve("seeds-bad");
    assertThatThrownBy(() -> SnapshotArchive.restore(file, seeds, (r, p) -> "cluster", (g, n, b) -> { })).as(what)
        .isInstanceOf(IOException.class).hasMessageContaining("is refused");
    assertThat(seeds).as(what).doesNotExist();
    assertThat(dir.resolve("seeds-bad.tmp")).as(what).doesNotExist();
  }
}
