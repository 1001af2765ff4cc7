package io.roster.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.Pid;
import io.roster.proto.ChangeEntry;
import io.roster.proto.KeyMode;
import io.roster.schema.Change;
import io.roster.schema.Registration;
import io.roster.schema.RegistryDescriptor;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChangeHistoryTest {
  final RegistryDescriptor registry = new RegistryDescriptor("r", KeyMode.UNIQUE, 1, 1024, 1024, 100, 1);

  void append(ChangeHistory h, long index) {
    Registration r = new Registration(registry, "k" + index, Pid.of("n1", 1, index), new byte[0], index, 0);
    h.applied(index, List.of(new Change.Registered(r)));
  }

  static List<Long> indexes(ChangeHistory.Slice slice) {
    return slice.entries().stream().map(ChangeEntry::getIndex).toList();
  }

  @Test
  void slicesFollowAnIndexAndAreCutAtTheMaximum() {
    ChangeHistory h = new ChangeHistory(100, Long.MAX_VALUE, Runnable::run);
    for (long i = 1; i <= 10; i += 2) { // entries at odd indexes; the even ones changed nothing
      append(h, i);
      h.applied(i + 1, List.of());
    }
    assertThat(indexes(h.after(0, 100))).containsExactly(1L, 3L, 5L, 7L, 9L);
    assertThat(indexes(h.after(4, 100))).containsExactly(5L, 7L, 9L);
    assertThat(h.after(4, 100).appliedIndex()).isEqualTo(10);
    ChangeHistory.Slice cut = h.after(0, 2);
    assertThat(indexes(cut)).containsExactly(1L, 3L);
    assertThat(cut.appliedIndex()).isEqualTo(3); // resume after the last entry returned
    assertThat(indexes(h.after(10, 100))).isEmpty();
    assertThat(h.after(12, 100).appliedIndex()).isEqualTo(12);
  }

  @Test
  void theOldestEntriesGoAndReadersBehindThemAreTold() {
    ChangeHistory h = new ChangeHistory(10, Long.MAX_VALUE, Runnable::run);
    for (long i = 1; i <= 5_000; i++) {
      append(h, i);
    }
    assertThat(h.completeAfter()).isEqualTo(4_990);
    assertThat(h.after(4_989, 100)).isNull();
    assertThat(indexes(h.after(4_990, 100))).hasSize(10).startsWith(4_991L).endsWith(5_000L);
    assertThat(indexes(h.after(4_995, 3))).containsExactly(4_996L, 4_997L, 4_998L);
    h.reset(6_000);
    assertThat(h.after(5_000, 100)).isNull();
    assertThat(indexes(h.after(6_000, 100))).isEmpty();
  }

  @Test
  void readersGetEachEntryEncodedAsItWasAppliedWhateverItsChanges() {
    ChangeHistory h = new ChangeHistory(100, Long.MAX_VALUE, Runnable::run);
    Registration a = new Registration(registry, "a", Pid.of("n1", 1, 1), new byte[] {1, 2}, 1, 0);
    Registration b = new Registration(registry, "b", Pid.of("n1", 1, 2), null, 1, 3);
    List<Change> changes = List.of(new Change.Registered(a), new Change.Registered(b),
        new Change.ValueUpdated(a, new Registration(registry, "a", a.pid(), new byte[] {3}, 1, 4)),
        new Change.MetaPut("r", "m", new byte[] {9}), new Change.MetaDeleted("r", "m"),
        new Change.Unregistered(b));
    int[] ordinals = {0, 3, 4, 5, 5, 6};
    h.applied(1, changes, ordinals);
    ChangeEntry expected = io.roster.schema.ChangeCodec.encode(1, changes, ordinals);
    assertThat(h.after(0, 10).entries()).containsExactly(expected);
    assertThat(h.after(0, 10).entries().get(0)).isSameAs(h.after(0, 10).entries().get(0)); // encoded once
  }

  @Test
  void theByteBoundCountsAnEstimateOfEachEntryBeforeItIsEncoded() {
    ChangeHistory h = new ChangeHistory(1_000, 10_000, Runnable::run);
    byte[] value = new byte[1_000];
    for (long i = 1; i <= 100; i++) {
      Registration r = new Registration(registry, "k" + i, Pid.of("n1", 1, i), value, i, 0);
      h.applied(i, List.of(new Change.Registered(r)));
    }
    // about 1,080 bytes each: the last 9 fit in 10,000
    assertThat(h.completeAfter()).isEqualTo(91);
    assertThat(indexes(h.after(91, 100))).hasSize(9).startsWith(92L).endsWith(100L);
    long encoded = h.after(91, 100).entries().stream().mapToLong(ChangeEntry::getSerializedSize).sum();
    assertThat(encoded).isBetween(9_000L, 10_000L); // the estimate is near what the entries take encoded
  }
}
