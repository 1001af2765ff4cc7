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
}
