package io.roster.apply;

import static io.roster.schema.Commands.createRegistry;
import static io.roster.schema.Commands.openSession;
import static io.roster.schema.Commands.register;
import static io.roster.schema.Commands.unregister;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import io.roster.Pid;
import io.roster.proto.BatchResult;
import io.roster.proto.Command;
import io.roster.proto.CommandBatch;
import io.roster.proto.KeyMode;
import io.roster.proto.Status;
import io.roster.schema.Codec;
import io.roster.schema.Limits;
import io.roster.schema.Revisions;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplicaTest {
  static final Pid A = Pid.of("n1", 1, 1);

  @TempDir Path dir;
  Replica replica;
  long index;

  @BeforeEach
  void open() throws Exception {
    replica = Replica.open(dir.resolve("db"));
    apply(Codec.encode(openSession("n1", 1), createRegistry("u", KeyMode.UNIQUE), createRegistry("d", KeyMode.DUPLICATE),
        register("u", "k", "v".getBytes(UTF_8), A)));
  }

  @AfterEach
  void close() {
    replica.close();
  }

  BatchResult apply(byte[] entry) {
    return replica.applyEntry(ByteString.copyFrom(entry), 1, ++index);
  }

  /** Applies bad bytes: one error result with {@code status}, state unchanged, index consumed. */
  void assertRejected(byte[] entry, Status status) {
    TreeSet<String> before = replica.mirror().describe();
    BatchResult result = apply(entry);
    assertThat(result.getResultsList()).singleElement().satisfies(r -> {
      assertThat(r.getStatus()).isEqualTo(status);
      assertThat(r.getDetail()).isNotEmpty();
    });
    assertThat(replica.mirror().describe()).isEqualTo(before);
    assertThat(replica.appliedIndex()).isEqualTo(index);
  }

  @Test
  void anEntryDecodedBeforeTheLogIsNotDecodedAgain() {
    // the leader's startTransaction decoded the request's bytes; the apply uses that batch as it is
    CommandBatch batch = Codec.batchOf(register("u", "leader-decoded", "v".getBytes(UTF_8), A));
    BatchResult result = replica.applyEntry(ByteString.copyFromUtf8("not decoded again"), 1, ++index, batch);
    assertThat(result.getResults(0).getStatus()).isEqualTo(Status.OK);
    assertThat(replica.mirror().whereis("u", "leader-decoded")).isEqualTo(A);
    // without it, the same bytes are decoded (and refused) as on a follower
    assertThat(replica.applyEntry(ByteString.copyFromUtf8("not decoded again"), 1, ++index).getResults(0).getStatus())
        .isEqualTo(Status.UNKNOWN_COMMAND);
  }

  @Test
  void garbageBytesAreRejected() {
    byte[] garbage = new byte[64];
    new Random(42).nextBytes(garbage);
    assertRejected(garbage, Status.UNKNOWN_COMMAND);
    assertRejected(new byte[0], Status.UNKNOWN_COMMAND);
  }

  @Test
  void everyTruncationOfAValidEntryIsRejected() {
    byte[] entry = Codec.encode(register("u", "other", "v".getBytes(UTF_8), A), register("d", "x", new byte[3], A));
    for (int length = 0; length < entry.length; length++) {
      assertRejected(Arrays.copyOf(entry, length), Status.UNKNOWN_COMMAND);
    }
  }

  @Test
  void everySingleBitFlipIsRejected() {
    byte[] entry = Codec.encode(register("u", "other", "v".getBytes(UTF_8), A));
    for (int bit = 0; bit < entry.length * 8; bit++) {
      byte[] corrupt = entry.clone();
      corrupt[bit / 8] ^= (byte) (1 << (bit % 8));
      Status expected = bit / 8 == 1 ? Status.UNSUPPORTED_VERSION : Status.UNKNOWN_COMMAND;
      assertRejected(corrupt, expected);
    }
  }

  @Test
  void anUnknownVersionAnEmptyEntryAndAnOversizedEntryAreRejected() {
    byte[] entry = Codec.encode(register("u", "other", new byte[1], A));
    entry[1] = 2;
    assertRejected(entry, Status.UNSUPPORTED_VERSION);
    assertRejected(Codec.encode(CommandBatch.getDefaultInstance()), Status.INVALID_ARGUMENT);
    Command c = register("d", "x", new byte[1], A);
    assertRejected(Codec.encode(Codec.batchOf(Collections.nCopies(Limits.BATCH_COMMANDS_MAX + 1, c))),
        Status.LIMIT_EXCEEDED);
    assertRejected(new byte[Limits.BATCH_BYTES_MAX + 1], Status.LIMIT_EXCEEDED);
  }

  @Test
  void anUnknownCommandFailsAloneAndItsBatchMatesApply() {
    Command unknown = Command.newBuilder().setUnknownFields(UnknownFieldSet.newBuilder()
        .addField(77, UnknownFieldSet.Field.newBuilder().addVarint(1).build()).build()).build();
    BatchResult result = apply(Codec.encode(
        register("u", "before", new byte[1], A), unknown, register("u", "k", new byte[1], A),
        register("u", "after", new byte[1], A)));
    assertThat(result.getResultsList()).extracting(r -> r.getStatus())
        .containsExactly(Status.OK, Status.UNKNOWN_COMMAND, Status.ALREADY_REGISTERED, Status.OK);
    assertThat(replica.mirror().whereis("u", "before")).isEqualTo(A);
    assertThat(replica.mirror().whereis("u", "after")).isEqualTo(A);
  }

  @Test
  void laterCommandsOfAnEntrySeeTheEarlierOnes() {
    Pid b = Pid.of("n1", 1, 2);
    BatchResult result = apply(Codec.encode(register("u", "race", new byte[1], A), register("u", "race", new byte[1], b)));
    assertThat(result.getResults(1).getStatus()).isEqualTo(Status.ALREADY_REGISTERED);
    assertThat(Codec.fromProto(result.getResults(1).getOwner())).isEqualTo(A);
  }

  @Test
  void anEntryAtOrBelowTheAppliedIndexIsSkipped() {
    TreeSet<String> before = replica.mirror().describe();
    BatchResult result = replica.applyEntry(
        ByteString.copyFrom(Codec.encode(register("d", "dup", new byte[1], A))), 1, index);
    assertThat(result.getResultsList()).singleElement()
        .satisfies(r -> assertThat(r.getStatus()).isEqualTo(Status.REPLAYED));
    assertThat(replica.mirror().describe()).isEqualTo(before);
  }

  @Test
  void reopeningGivesTheSameStateAndAppliedIndex() throws Exception {
    apply(Codec.encode(register("d", "x", new byte[1], A), register("d", "x", new byte[1], A)));
    TreeSet<String> state = replica.mirror().describe();
    replica.close();
    replica = Replica.open(dir.resolve("db"));
    assertThat(replica.appliedIndex()).isEqualTo(index);
    assertThat(replica.mirror().describe()).isEqualTo(state);
    assertThat(replica.mirror().lookup("d", "x")).hasSize(2);
  }

  @Test
  void everyCommandOfAnEntryHasItsOwnRevisionAndItsChangesCarryIt() {
    Pid b = Pid.of("n1", 1, 2);
    BatchResult result = apply(Codec.encode(register("u", "race", new byte[1], A), unregister("u", "race", A),
        register("u", "race", new byte[1], b)));
    assertThat(result.getResultsList()).extracting(r -> r.getStatus()).containsOnly(Status.OK);
    assertThat(result.getResultsList()).extracting(r -> r.getRevision())
        .containsExactly(Revisions.of(index, 0), Revisions.of(index, 1), Revisions.of(index, 2));
    assertThat(replica.mirror().unique("u", "race").revision()).isEqualTo(Revisions.of(index, 2));
  }

  @Test
  void noValueAndAnEmptyValueStayDistinctThroughTheStore() throws Exception {
    apply(Codec.encode(register("u", "none", null, A), register("u", "empty", new byte[0], A)));
    assertThat(replica.mirror().unique("u", "none").hasValue()).isFalse();
    assertThat(replica.mirror().unique("u", "empty").valueUnsafe()).isEmpty();
    TreeSet<String> before = replica.mirror().describe();
    replica.close();
    replica = Replica.open(dir.resolve("db"));
    assertThat(replica.mirror().describe()).isEqualTo(before);
    assertThat(replica.mirror().unique("u", "none").hasValue()).isFalse();
    assertThat(replica.mirror().unique("u", "empty").hasValue()).isTrue();
  }

  static byte[] tagged(long writer, long seq, Command... commands) {
    return Codec.encode(Codec.batchOf(java.util.List.of(commands), "n1", writer, seq));
  }

  @Test
  void anEntryAppendedTwiceAppliesOnceAndItsRepeatGetsTheFirstResults() throws Exception {
    byte[] entry = tagged(7, 1, register("d", "twice", new byte[1], A));
    BatchResult first = apply(entry);
    assertThat(first.getResults(0).getStatus()).isEqualTo(Status.OK);
    TreeSet<String> once = replica.mirror().describe();

    BatchResult repeat = apply(entry); // the same bytes, appended again at the next index
    assertThat(repeat).isEqualTo(first);
    assertThat(replica.mirror().lookup("d", "twice")).hasSize(1);
    assertThat(replica.mirror().describe()).isEqualTo(once);
    assertThat(replica.appliedIndex()).isEqualTo(index);

    // a restart remembers the writer's last entry: a repeat after it changes nothing either
    replica.close();
    replica = Replica.open(dir.resolve("db"));
    assertThat(apply(entry)).isEqualTo(first);
    assertThat(replica.mirror().lookup("d", "twice")).hasSize(1);
    // the writer's next entry applies
    assertThat(apply(tagged(7, 2, register("d", "twice", new byte[1], A))).getResults(0).getStatus())
        .isEqualTo(Status.OK);
    assertThat(replica.mirror().lookup("d", "twice")).hasSize(2);
  }

  @Test
  void aWritersEntryThatReachesTheLogAfterALaterOneChangesNothing() {
    apply(tagged(7, 2, register("d", "late", new byte[1], A)));
    TreeSet<String> before = replica.mirror().describe();
    BatchResult late = apply(tagged(7, 1, register("d", "late", new byte[1], A), unregister("u", "k", A)));
    assertThat(late.getResultsList()).singleElement().satisfies(r -> {
      assertThat(r.getStatus()).isEqualTo(Status.REPLAYED);
      assertThat(r.getDetail()).contains("repeats entry 1");
    });
    assertThat(replica.mirror().describe()).isEqualTo(before);
    // other writers, and entries without a writer, are not affected
    assertThat(apply(tagged(8, 1, register("d", "late", new byte[1], A))).getResults(0).getStatus()).isEqualTo(Status.OK);
    assertThat(apply(Codec.encode(register("d", "late", new byte[1], A))).getResults(0).getStatus()).isEqualTo(Status.OK);
    assertThat(replica.mirror().lookup("d", "late")).hasSize(3);
  }

  @Test
  void aWritersRecordIsBookkeepingLeftOutOfTheDigest() throws Exception {
    Command put = Command.newBuilder().setPutMeta(io.roster.proto.PutMeta.newBuilder().setRegistry("u")
        .setKey("m").setValue(ByteString.copyFromUtf8("v"))).build();
    apply(tagged(7, 1, put));
    assertThat(replica.store().writers().get("n1", 7)).isNotNull();
    // a replica that applied the same commands without a writer holds the same state, so the same digest
    try (Replica other = Replica.open(dir.resolve("other"))) {
      long i = 0;
      other.applyEntry(ByteString.copyFrom(Codec.encode(openSession("n1", 1), createRegistry("u", KeyMode.UNIQUE),
          createRegistry("d", KeyMode.DUPLICATE), register("u", "k", "v".getBytes(UTF_8), A))), 1, ++i);
      other.applyEntry(ByteString.copyFrom(Codec.encode(put)), 1, ++i);
      assertThat(other.store().writers().get("n1", 7)).isNull();
      assertThat(other.store().digest()).isEqualTo(replica.store().digest());
    }
  }

  @Test
  void anEntryWithAnInvalidWriterIsRejected() {
    CommandBatch noNode = CommandBatch.newBuilder().addCommands(register("d", "x", new byte[1], A))
        .setWriter(io.roster.proto.WriterTag.newBuilder().setWriter(1).setSeq(1)).build();
    assertRejected(Codec.encode(noNode), Status.INVALID_ARGUMENT);
    CommandBatch seqZero = noNode.toBuilder().setWriter(noNode.getWriter().toBuilder().setNodeId("n1").setSeq(0)).build();
    assertRejected(Codec.encode(seqZero), Status.INVALID_ARGUMENT);
  }

  @Test
  void aWritersRecordKeepsResultsWithoutValuesAndWithinABound() {
    BatchResult.Builder small = BatchResult.newBuilder().addResults(io.roster.proto.Result.newBuilder()
        .setStatus(Status.OK).setRevision(5).setDetail("d").setOldValue(ByteString.copyFrom(new byte[1000]))
        .setNewValue(ByteString.copyFrom(new byte[1000])).setHadOldValue(true));
    assertThat(Replica.kept(small).getResults(0)).isEqualTo(io.roster.proto.Result.newBuilder().setStatus(Status.OK)
        .setRevision(5).setDetail("d").setHadOldValue(true).build());
    BatchResult.Builder detailed = BatchResult.newBuilder();
    for (int i = 0; i < 100; i++) {
      detailed.addResults(io.roster.proto.Result.newBuilder().setStatus(Status.ALREADY_REGISTERED).setRevision(i)
          .setDetail("x".repeat(1000)));
    }
    assertThat(Replica.kept(detailed).getResultsList()).hasSize(100).allSatisfy(r -> assertThat(r.getDetail()).isEmpty());
    BatchResult.Builder huge = BatchResult.newBuilder();
    for (int i = 0; i < 4096; i++) {
      huge.addResults(io.roster.proto.Result.newBuilder().setStatus(Status.NOT_OWNER).setRevision(Long.MAX_VALUE - i)
          .setOwner(io.roster.proto.PidProto.newBuilder().setNodeId("n".repeat(100)).setIncarnation(1).setSerial(1)));
    }
    assertThat(Replica.kept(huge).getResultsList()).isEmpty();
  }
}

