package io.roster.apply;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.proto.WriterRecord;
import java.util.List;
import org.junit.jupiter.api.Test;

class WriterMarksTest {
  static final WriterMarks.Key A = new WriterMarks.Key("n1", 1);
  static final WriterMarks.Key B = new WriterMarks.Key("n2", 2);

  @Test
  void aWriterSilentForTheWindowIsForgottenAtTheSameEntryEverywhere() {
    WriterMarks m = new WriterMarks();
    m.applied(A, 1, 10);
    m.applied(B, 1, 20);
    assertThat(m.forget(10 + WriterMarks.WINDOW_ENTRIES - 1)).isEmpty();
    assertThat(m.forget(10 + WriterMarks.WINDOW_ENTRIES)).containsExactly(A);
    assertThat(m.last(A)).isNull();
    assertThat(m.last(B)).isEqualTo(new WriterMarks.Mark(1, 20));
  }

  @Test
  void aWriterThatWritesAgainIsTheNewestAndItsSilenceCountsFromThere() {
    WriterMarks m = new WriterMarks();
    m.applied(A, 1, 10);
    m.applied(B, 1, 20);
    m.applied(A, 2, 30);
    assertThat(m.forget(20 + WriterMarks.WINDOW_ENTRIES)).containsExactly(B);
    assertThat(m.last(A)).isEqualTo(new WriterMarks.Mark(2, 30));
  }

  @Test
  void marksLoadedFromTheStoreAreOrderedByTheirEntries() {
    WriterMarks m = WriterMarks.of(List.of(
        WriterRecord.newBuilder().setNodeId("n2").setWriter(2).setSeq(5).setIndex(20).build(),
        WriterRecord.newBuilder().setNodeId("n1").setWriter(1).setSeq(3).setIndex(10).build()));
    assertThat(m.forget(10 + WriterMarks.WINDOW_ENTRIES)).containsExactly(A);
    assertThat(m.last(B)).isEqualTo(new WriterMarks.Mark(5, 20));
  }

  @Test
  void beyondTheMostWritersTheLongestSilentIsForgotten() {
    WriterMarks m = new WriterMarks();
    for (int i = 1; i <= WriterMarks.WRITERS_MAX; i++) {
      m.applied(new WriterMarks.Key("n", i), 1, i);
    }
    assertThat(m.forget(WriterMarks.WRITERS_MAX + 1)).containsExactly(new WriterMarks.Key("n", 1));
    assertThat(m.size()).isEqualTo(WriterMarks.WRITERS_MAX - 1);
  }
}
