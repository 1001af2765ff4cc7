package io.roster.internal.read;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.CompactedException;
import io.roster.Pid;
import io.roster.RegistryEvent;
import io.roster.RegistryListener;
import io.roster.RosterException;
import io.roster.ValueCodec;
import io.roster.mirror.ChangeHistory;
import io.roster.proto.KeyMode;
import io.roster.schema.Change;
import io.roster.schema.Registration;
import io.roster.schema.RegistryDescriptor;
import io.roster.schema.Revisions;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A watch against a real, small change history: delivery, order, and the compacted error. */
class WatchUnitTest {
  final ExecutorService executor = Executors.newCachedThreadPool();
  final ChangeHistory history = new ChangeHistory(3, Long.MAX_VALUE, Runnable::run);
  final RegistryDescriptor registry = new RegistryDescriptor("r", KeyMode.UNIQUE, 1, 1024, 1024, 100, 1);
  final List<RegistryEvent<String>> events = new CopyOnWriteArrayList<>();
  final List<RosterException> errors = new CopyOnWriteArrayList<>();
  final RegistryListener<String> listener = new RegistryListener<>() {
    @Override
    public void onEvent(RegistryEvent<String> event) {
      events.add(event);
    }

    @Override
    public void onError(RosterException error) {
      errors.add(error);
    }
  };

  @AfterEach
  void stop() throws InterruptedException {
    executor.shutdownNow();
    assertThat(executor.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  void register(long index, String key) {
    Registration r = new Registration(registry, key, Pid.of("n1", 1, 1), key.getBytes(), index, 0);
    history.applied(index, List.of(new Change.Registered(r)));
  }

  Watch<String> watch(long after) {
    Watch<String> w = new Watch<>(history, "r", 0, ValueCodec.utf8(), after, false, listener, executor, x -> { });
    w.start();
    return w;
  }

  @Test
  void deliversWhatFollowsItsRevisionThenLiveEventsInOrder() {
    register(1, "a");
    register(2, "b");
    Watch<String> w = watch(Revisions.entryEnd(1)); // after the entry of "a" (the history keeps only 3)
    register(3, "c");
    register(4, "d");
    Awaitility.await().until(() -> events.size() == 3);
    assertThat(events).extracting(RegistryEvent::key).containsExactly("b", "c", "d");
    assertThat(events).extracting(RegistryEvent::revision)
        .containsExactly(Revisions.of(2, 0), Revisions.of(3, 0), Revisions.of(4, 0));
    Awaitility.await().atMost(java.time.Duration.ofSeconds(2)).untilAsserted(() -> assertThat(w.revision()).isEqualTo(Revisions.entryEnd(4)));
    w.close();
    register(5, "e");
    assertThat(events).hasSize(3);
    assertThat(errors).isEmpty();
  }

  @Test
  void aRevisionOlderThanTheHistoryEndsWithCompacted() {
    for (int i = 1; i <= 5; i++) {
      register(i, "k" + i); // the history keeps 3: entries 3..5
    }
    watch(Revisions.entryEnd(1));
    Awaitility.await().until(() -> errors.size() == 1);
    assertThat(errors.get(0)).isInstanceOfSatisfying(CompactedException.class, e -> {
      assertThat(e.requested()).isEqualTo(Revisions.entryEnd(1));
      assertThat(e.oldest()).isEqualTo(Revisions.entryEnd(2));
    });
    assertThat(events).isEmpty();
    watch(Revisions.entryEnd(2));
    Awaitility.await().until(() -> events.size() == 3);
    assertThat(events).extracting(RegistryEvent::key).containsExactly("k3", "k4", "k5");
  }

  @Test
  void aWatchResumedInsideAnEntryDeliversOnlyItsLaterCommands() {
    Registration first = new Registration(registry, "k", Pid.of("n1", 1, 1), "a".getBytes(), 7, 0);
    Registration second = new Registration(registry, "k", Pid.of("n1", 1, 2), "c".getBytes(), 7, 2);
    history.applied(7, List.of(new Change.Registered(first), new Change.Unregistered(first),
        new Change.Registered(second)), new int[] {0, 1, 2});
    Watch<String> w = watch(first.revision());
    Awaitility.await().until(() -> events.size() == 2);
    assertThat(events).extracting(RegistryEvent::type, RegistryEvent::revision).containsExactly(
        org.assertj.core.groups.Tuple.tuple(RegistryEvent.Type.UNREGISTERED, Revisions.of(7, 1)),
        org.assertj.core.groups.Tuple.tuple(RegistryEvent.Type.REGISTERED, second.revision()));
    assertThat(second.revision()).isGreaterThan(first.revision());
    Awaitility.await().until(() -> w.revision() == Revisions.entryEnd(7));
    assertThat(errors).isEmpty();
  }

  @Test
  void fromNowOnAHistoryNotLoadedYetStartsAtTheLoad() {
    new Watch<>(history, "r", 0, ValueCodec.utf8(), 0, true, listener, executor, x -> { }).start();
    history.reset(10); // a client node's first load
    register(11, "after");
    Awaitility.await().until(() -> events.size() == 1);
    assertThat(events.get(0).key()).isEqualTo("after");
    assertThat(errors).isEmpty();
  }

  @Test
  void aListenerThatThrowsEndsItsSubscription() {
    RegistryListener<String> bad = new RegistryListener<>() {
      @Override
      public void onEvent(RegistryEvent<String> event) {
        throw new IllegalStateException("boom");
      }

      @Override
      public void onError(RosterException error) {
        errors.add(error);
      }
    };
    register(1, "a");
    new Watch<>(history, "r", 0, ValueCodec.utf8(), 0, false, bad, executor, x -> { }).start();
    Awaitility.await().until(() -> errors.size() == 1);
    assertThat(errors.get(0)).hasMessageContaining("boom");
  }
}
