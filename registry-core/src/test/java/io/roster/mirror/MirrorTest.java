package io.roster.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.Pid;
import io.roster.core.CoreHarness;
import io.roster.proto.KeyMode;
import io.roster.schema.Change;
import io.roster.schema.Commands;
import io.roster.schema.Registration;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

class MirrorTest {
  static final int KEYS = 10_000;

  @Test
  void whereisAllocatesNothingOnHitOrMiss() {
    CoreHarness h = new CoreHarness();
    h.run(Commands.openSession("n1", 1));
    h.run(Commands.createRegistry("u", KeyMode.UNIQUE));
    String[] keys = new String[KEYS];
    String[] missing = new String[KEYS];
    for (int i = 0; i < KEYS; i++) {
      keys[i] = "key-" + i;
      missing[i] = "missing-" + i;
      h.run(Commands.register("u", keys[i], new byte[0], Pid.of("n1", 1, i + 1)));
    }
    keys[0].hashCode(); // String hashes are cached after the first use
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long found = 0;
    for (int round = 0; round < 3; round++) { // warm the hashes and the JIT
      found += lookups(h.mirror, keys, missing);
    }
    long before = threads.getCurrentThreadAllocatedBytes();
    for (int round = 0; round < 20; round++) {
      found += lookups(h.mirror, keys, missing);
    }
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    assertThat(found).isEqualTo(23L * KEYS);
    // 400,000 lookups; a single allocation per lookup would be at least 6.4 MB.
    assertThat(allocated).as("bytes allocated by 400,000 lookups").isLessThan(64 * 1024);
  }

  private static long lookups(Mirror mirror, String[] keys, String[] missing) {
    long found = 0;
    for (int i = 0; i < keys.length; i++) {
      if (mirror.whereis("u", keys[i]) != null) {
        found++;
      }
      if (mirror.whereis("u", missing[i]) != null) {
        found += 1_000_000;
      }
    }
    return found;
  }

  @Test
  void invariantViolationsAreLoud() {
    CoreHarness h = new CoreHarness();
    h.run(Commands.openSession("n1", 1));
    h.run(Commands.createRegistry("u", KeyMode.UNIQUE));
    Pid a = Pid.of("n1", 1, 1);
    h.run(Commands.register("u", "k", new byte[0], a));
    Registration second = new Registration(h.mirror.registry("u"), "k", Pid.of("n1", 1, 2), new byte[0], 99, 0);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> h.mirror.apply(new Change.Registered(second)))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("unique key registered twice");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> h.mirror.appliedIndex(1))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("went back");
  }
  /**
   * A pid that names many things keeps them in creation order, on a replica that applied them and
   * on one that loaded them in another order, through the move to the many-holdings form and back;
   * an updated value moves its registration to the end (the update created it anew).
   */
  @Test
  void aPidsRegistrationsAreInCreationOrderHoweverTheyWereLoaded() {
    CoreHarness h = new CoreHarness();
    h.run(Commands.openSession("n1", 1));
    h.run(Commands.createRegistry("u", KeyMode.UNIQUE));
    Pid pid = Pid.of("n1", 1, 1);
    int many = 3 * Mirror.FEW_MAX;
    for (int i = 0; i < many; i++) {
      h.run(Commands.register("u", "k" + (many - i), new byte[] {(byte) i}, pid));
    }
    h.run(Commands.acquireLock("u", "lock", pid));
    java.util.List<Registration> held = h.mirror.registrationsOf(pid);
    assertThat(held).hasSize(many).isSortedAccordingTo(Registration::creationOrder);
    assertThat(h.mirror.holdingsOf(pid)).isEqualTo(many + 1);
    assertThat(h.mirror.locksOf(pid)).hasSize(1);

    // a store loads by key: the order it hands the mirror is not creation order
    for (int few : new int[] {Mirror.FEW_MAX / 2, many}) {
      Mirror loaded = new Mirror();
      loaded.apply(new Change.RegistryCreated(h.mirror.registry("u")));
      java.util.List<Registration> byKey = new java.util.ArrayList<>(held.subList(0, few));
      byKey.sort(java.util.Comparator.comparing(Registration::key));
      byKey.forEach(r -> loaded.apply(new Change.Registered(r)));
      assertThat(loaded.registrationsOf(pid)).as("%d loaded by key", few).containsExactlyElementsOf(held.subList(0, few));
    }

    h.run(Commands.updateValue("u", held.get(0).key(), new byte[] {42}, pid));
    java.util.List<Registration> updated = h.mirror.registrationsOf(pid);
    assertThat(updated.get(many - 1).key()).isEqualTo(held.get(0).key());
    assertThat(updated.get(many - 1).valueUnsafe()).containsExactly(42);
    assertThat(updated).isSortedAccordingTo(Registration::creationOrder);

    for (int i = 1; i < many - 2; i++) { // down to the array form again
      h.run(Commands.unregister("u", held.get(i).key(), pid));
    }
    assertThat(h.mirror.registrationsOf(pid)).extracting(Registration::key)
        .containsExactly(held.get(many - 2).key(), held.get(many - 1).key(), held.get(0).key());
    assertThat(h.mirror.holdingsOf(pid)).isEqualTo(4);
    h.run(Commands.unregisterPid(pid));
    assertThat(h.mirror.holdingsOf(pid)).isZero();
    assertThat(h.mirror.registrationsOf(pid)).isEmpty();
    assertThat(h.mirror.locksOf(pid)).isEmpty();
  }
}
