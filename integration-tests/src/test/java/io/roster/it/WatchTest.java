package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.RegistryEvent;
import io.roster.RegistryListener;
import io.roster.RosterException;
import io.roster.Subscription;
import io.roster.ValueCodec;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Listeners (watch) on a real 3-voter cluster and a client node. */
class WatchTest {
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  LocalCluster cluster;

  @BeforeEach
  void start() {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(10));
    cluster.startClient("c1");
    cluster.awaitReady(WAIT);
  }

  @AfterEach
  void stop() {
    cluster.close();
  }

  /** Collects what a subscription delivers. */
  static final class Recorder implements RegistryListener<String> {
    final List<RegistryEvent<String>> events = new CopyOnWriteArrayList<>();
    final List<RosterException> errors = new CopyOnWriteArrayList<>();

    @Override
    public void onEvent(RegistryEvent<String> event) {
      events.add(event);
    }

    @Override
    public void onError(RosterException error) {
      errors.add(error);
    }
  }

  @Test
  void theEventStreamIsTheSameOnEveryNodeInRevisionOrder() {
    Node n1 = cluster.node("n1");
    Node n2 = cluster.node("n2");
    Node c1 = cluster.node("c1");
    Registry<String> onN1 = n1.registry("topics", Keys.DUPLICATE, ValueCodec.utf8());
    Recorder onVoter = new Recorder();
    Recorder onClient = new Recorder();
    Recorder other = new Recorder();
    try (Subscription a = n2.registry("topics", Keys.DUPLICATE, ValueCodec.utf8()).watch(onVoter);
        Subscription b = c1.registry("topics", Keys.DUPLICATE, ValueCodec.utf8()).watch(onClient);
        Subscription c = n2.registry("elsewhere", Keys.DUPLICATE, ValueCodec.utf8()).watch(other)) {
      LocalProcess p = n1.spawn();
      LocalProcess q = c1.spawn();
      Registry<String> onC1 = c1.registry("topics", Keys.DUPLICATE, ValueCodec.utf8());
      for (int i = 0; i < 20; i++) {
        (i % 2 == 0 ? onN1 : onC1).register("t" + (i % 3), i % 2 == 0 ? p : q, "v" + i);
      }
      onN1.unregister("t0", p).join();
      p.close(); // death: its remaining entries go
      Awaitility.await().atMost(WAIT).until(() -> onVoter.events.stream()
          .filter(e -> e.type() == RegistryEvent.Type.UNREGISTERED).count() == 10);
      Awaitility.await().atMost(WAIT).until(() -> onClient.events.size() == onVoter.events.size());

      assertThat(onClient.events).isEqualTo(onVoter.events);
      assertThat(onVoter.events).extracting(RegistryEvent::revision).isSorted();
      assertThat(onVoter.events).filteredOn(e -> e.type() == RegistryEvent.Type.REGISTERED).hasSize(20)
          .extracting(RegistryEvent::value).containsExactly(
              java.util.stream.IntStream.range(0, 20).mapToObj(i -> "v" + i).toArray(String[]::new));
      assertThat(onVoter.events).filteredOn(e -> e.type() == RegistryEvent.Type.UNREGISTERED)
          .allSatisfy(e -> assertThat(e.pid()).isEqualTo(p.pid()));
      assertThat(other.events).isEmpty();
      assertThat(onVoter.errors).isEmpty();
      assertThat(a.revision()).isGreaterThanOrEqualTo(onVoter.events.get(onVoter.events.size() - 1).revision());
    }
  }

  @Test
  void aSubscriptionResumesAfterARevisionWithTheEventsItMissed() {
    Node n1 = cluster.node("n1");
    Registry<String> r = n1.registry("jobs", Keys.UNIQUE, ValueCodec.utf8());
    LocalProcess p = n1.spawn();
    long first = r.register("a", p, "1");
    r.register("b", p, "2");
    long third = r.register("c", p, "3");
    Recorder resumed = new Recorder();
    try (Subscription s = cluster.node("n3").registry("jobs", Keys.UNIQUE, ValueCodec.utf8()).watch(first, resumed)) {
      Awaitility.await().atMost(WAIT).until(() -> resumed.events.size() == 2);
      assertThat(resumed.events).extracting(RegistryEvent::key).containsExactly("b", "c");
      assertThat(resumed.events.get(1).revision()).isEqualTo(third);
      r.register("d", p, "4");
      Awaitility.await().atMost(WAIT).until(() -> resumed.events.size() == 3);
      s.close();
      r.register("e", p, "5");
      assertThat(r.at(io.roster.Consistency.LINEARIZABLE).lookup("e")).hasSize(1);
    }
    assertThat(resumed.events).extracting(RegistryEvent::key).containsExactly("b", "c", "d");
  }
}
