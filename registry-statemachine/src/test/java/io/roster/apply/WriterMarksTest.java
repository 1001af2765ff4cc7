package io.roster.apply;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.proto.WriterRecord;
import java.util.List;
import org.junit.jupiter.api.Test;

class WriterMarksTest {
  static final WriterMarks.Key A = new WriterMarks.Key("n1", 1);
  static final WriterMarks.Key B = new WriterMarks.Key("n2", 2);

  static List<WriterMarks.Key> forget(WriterMarks m, long index, WriterMarks.Key writer) {
    List<WriterMarks.Key> out = m.toForget(index, writer);
    m.forget(out);
    return out;
  }

  @Test
  void aWriterSilentForTheWindowIsForgottenAtTheSameEntryEverywhere() {
    WriterMarks m = new WriterMarks();
    m.applied(A, 1, 10);
    m.applied(B, 1, 20);
    assertThat(forget(m, 10 + WriterMarks.WINDOW_ENTRIES - 1, null)).isEmpty();
    assertThat(m.toForget(10 + WriterMarks.WINDOW_ENTRIES, null)).containsExactly(A);
    assertThat(m.last(A)).as("nothing changes before forget").isNotNull();
    assertThat(forget(m, 10 + WriterMarks.WINDOW_ENTRIES, null)).containsExactly(A);
    assertThat(m.last(A)).isNull();
    assertThat(m.last(B)).isEqualTo(new WriterMarks.Mark(1, 20));
  }

  @Test
  void theEntrysOwnWriterIsNotForgottenByItsOwnEntry() {
    WriterMarks m = new WriterMarks();
    m.applied(A, 1, 10);
    m.applied(B, 1, 20);
    assertThat(m.toForget(20 + WriterMarks.WINDOW_ENTRIES, A)).containsExactly(B);
  }

  @Test
  void aWriterThatWritesAgainIsTheNewestAndItsSilenceCountsFromThere() {
    WriterMarks m = new WriterMarks();
    m.applied(A, 1, 10);
    m.applied(B, 1, 20);
    m.applied(A, 2, 30);
    assertThat(forget(m, 20 + WriterMarks.WINDOW_ENTRIES, null)).containsExactly(B);
    assertThat(m.last(A)).isEqualTo(new WriterMarks.Mark(2, 30));
  }

  @Test
  void marksLoadedFromTheStoreAreOrderedByTheirEntries() {
    WriterMarks m = WriterMarks.of(List.of(
        WriterRecord.newBuilder().setNodeId("n2").setWriter(2).setSeq(5).setIndex(20).build(),
        WriterRecord.newBuilder().setNodeId("n1").setWriter(1).setSeq(3).setIndex(10).build()));
    assertThat(forget(m, 10 + WriterMarks.WINDOW_ENTRIES, null)).containsExactly(A);
    assertThat(m.last(B)).isEqualTo(new WriterMarks.Mark(5, 20));
  }

  @Test
  void aNodeStartingManyWritersPushesOutOnlyItsOwnOldest() {
    WriterMarks m = new WriterMarks();
    m.applied(B, 1, 1); // another node's writer, the oldest of all
    long index = 2;
    for (int w = 1; w <= WriterMarks.PER_NODE_MAX; w++) {
      m.applied(new WriterMarks.Key("n1", w), 1, index++);
    }
    WriterMarks.Key next = new WriterMarks.Key("n1", 1000);
    assertThat(forget(m, index, next)).containsExactly(new WriterMarks.Key("n1", 1));
    m.applied(next, 1, index);
    assertThat(m.last(B)).isNotNull();
    // an existing writer of the node writing again pushes out nobody
    assertThat(m.toForget(index + 1, new WriterMarks.Key("n1", 2))).isEmpty();
  }

  @Test
  void beyondTheMostWritersTheLongestSilentIsForgotten() {
    WriterMarks m = new WriterMarks();
    for (int i = 1; i <= WriterMarks.WRITERS_MAX; i++) {
      m.applied(new WriterMarks.Key("n" + i, i), 1, i);
    }
    WriterMarks.Key next = new WriterMarks.Key("new", 1);
    assertThat(forget(m, WriterMarks.WRITERS_MAX + 1, next)).containsExactly(new WriterMarks.Key("n1", 1));
    m.applied(next, 1, WriterMarks.WRITERS_MAX + 1);
    assertThat(m.size()).isEqualTo(WriterMarks.WRITERS_MAX);
    assertThat(m.toForget(WriterMarks.WRITERS_MAX + 2, null)).isEmpty();
  }
}
