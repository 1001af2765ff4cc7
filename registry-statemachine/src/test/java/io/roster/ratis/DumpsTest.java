package io.roster.ratis;

import static io.roster.schema.Commands.createRegistry;
import static io.roster.schema.Commands.openSession;
import static io.roster.schema.Commands.register;
import static org.assertj.core.api.Assertions.assertThat;

import io.roster.Pid;
import io.roster.core.CoreHarness;
import io.roster.mirror.Mirror;
import io.roster.proto.ChangeEntry;
import io.roster.proto.KeyMode;
import io.roster.proto.QueryResult;
import io.roster.proto.Status;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class DumpsTest {
  final AtomicLong now = new AtomicLong();
  final Dumps dumps = new Dumps(now::get);

  /** A state of about 12 MiB: three chunks or more. */
  static CoreHarness bigState() {
    CoreHarness h = new CoreHarness();
    h.run(openSession("n1", 1));
    h.run(createRegistry("r", KeyMode.UNIQUE));
    byte[] value = new byte[1000];
    for (int i = 0; i < 12_000; i++) {
      h.run(register("r", "key-" + i, value, Pid.of("n1", 1, 1 + i / 5_000)));
    }
    return h;
  }

  @Test
  void aDumpComesInChunksOfBoundedSizeThatRebuildTheState() {
    CoreHarness h = bigState();
    QueryResult first = dumps.start(h.mirror.appliedIndex(), h.mirror.asChanges());
    assertThat(first.getStatus()).isEqualTo(Status.OK);
    assertThat(first.getChunks()).isGreaterThanOrEqualTo(3);
    Mirror copy = new Mirror();
    QueryResult r = first;
    for (int k = 0; k < first.getChunks(); k++) {
      if (k > 0) {
        r = dumps.chunk(first.getDumpId(), k);
        assertThat(r.getStatus()).isEqualTo(Status.OK);
        assertThat(r.getAppliedIndex()).isEqualTo(first.getAppliedIndex());
      }
      assertThat(r.getSerializedSize()).isLessThan(Dumps.CHUNK_BYTES_MAX + 64 * 1024);
      for (ChangeEntry e : r.getChangeEntriesList()) {
        copy.applyStreamed(e.getIndex(), e.getChangesList());
      }
    }
    copy.advanceTo(r.getAppliedIndex());
    assertThat(copy.describe()).isEqualTo(h.mirror.describe());
    assertThat(dumps.held()).as("a dump read whole is dropped").isZero();
  }

  @Test
  void aDumpNotAskedForAMinuteIsGoneAndOnlyAFewAreKept() {
    CoreHarness h = bigState();
    QueryResult first = dumps.start(h.mirror.appliedIndex(), h.mirror.asChanges());
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(Dumps.KEEP_MILLIS + 1));
    assertThat(dumps.chunk(first.getDumpId(), 1).getStatus()).isEqualTo(Status.COMPACTED);
    long last = 0;
    for (int i = 0; i < Dumps.DUMPS_MAX; i++) {
      QueryResult started = dumps.start(h.mirror.appliedIndex(), h.mirror.asChanges());
      assertThat(started.getStatus()).isEqualTo(Status.OK);
      last = started.getDumpId();
    }
    assertThat(dumps.room()).isFalse();
    assertThat(dumps.start(h.mirror.appliedIndex(), h.mirror.asChanges()).getStatus()).isEqualTo(Status.BUSY);
    assertThat(dumps.chunk(last, 99).getStatus()).isEqualTo(Status.INVALID_ARGUMENT);
  }

  @Test
  void anEmptyStateIsOneEmptyChunk() {
    QueryResult r = dumps.start(0, java.util.List.of());
    assertThat(r.getChunks()).isEqualTo(1);
    assertThat(r.getChangeEntriesList()).hasSize(1);
    assertThat(r.getChangeEntries(0).getChangesCount()).isZero();
  }
}
