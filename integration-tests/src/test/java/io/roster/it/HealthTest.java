package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.Health;
import io.roster.RegistryNode;
import io.roster.Role;
import io.roster.Tls;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link RegistryNode#health()}: live and ready as the node itself can tell, with reasons. */
class HealthTest {
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  LocalCluster cluster;

  @BeforeEach
  void start() {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(5));
    cluster.startClient("c1");
    cluster.awaitReady(WAIT);
  }

  @AfterEach
  void stop() {
    cluster.close();
  }

  @Test
  void aVoterIsNotReadyWithoutAQuorumAndReadyAgainOnceItIsBack() {
    for (Node n : cluster.nodes()) {
      Health h = Awaitility.await(n.nodeId() + " ready").atMost(WAIT).until(n::health, Health::ready);
      assertThat(h).isEqualTo(new Health(true, true, List.of()));
    }
    Node n1 = cluster.node("n1");
    cluster.crash("n2");
    cluster.crash("n3");

    Awaitility.await("n1 not ready without a quorum").atMost(WAIT).until(() -> !n1.health().ready());
    Health alone = n1.health();
    assertThat(alone.live()).as("a voter without a quorum is live: restarting it would not help").isTrue();
    assertThat(alone.reasons()).isNotEmpty()
        .allSatisfy(r -> assertThat(r).containsAnyOf("no leader", "has heard this node", "session"));

    cluster.startVoter("n2");
    cluster.startVoter("n3");
    for (String id : List.of("n1", "n2", "n3")) {
      Node n = cluster.node(id);
      Awaitility.await(id + " ready again").atMost(WAIT).until(() -> n.health().ready());
    }
  }

  @Test
  void aClientNodeCutOffFromEveryVoterIsNotReadyThenFencesItselfAndMustBeRestarted() {
    // self-fencing on, as shipped (the test cluster's own nodes run without it)
    RegistryNode.Builder b = RegistryNode.builder().nodeId("c2").role(Role.CLIENT)
        // 10 s: not ready after two heartbeat periods unheard (6.7 s), fenced after about 9.8 s
        .sessionTimeout(Duration.ofSeconds(10)).tls(cluster.tls("c2", Tls.CertRole.CLIENT));
    cluster.voters().forEach(b::voter);
    try (RegistryNode client = b.start()) {
      Awaitility.await("c2 ready").atMost(WAIT).until(() -> client.health().ready());
      for (String id : List.of("n1", "n2", "n3")) {
        cluster.crash(id);
      }
      Awaitility.await("c2 not ready").atMost(WAIT).untilAsserted(() -> {
        Health h = client.health();
        assertThat(h.ready()).as("%s", h).isFalse();
        assertThat(h.live()).as("%s", h).isTrue();
        assertThat(h.reasons()).as("%s", h).anySatisfy(r -> assertThat(r).contains("no leader has heard this node"));
      });
      // unheard for its session timeout, it ends its session itself: a client node must then be restarted
      Awaitility.await("c2 not live").atMost(WAIT).untilAsserted(() -> {
        Health h = client.health();
        assertThat(h.live()).as("%s", h).isFalse();
        assertThat(h.reasons()).as("%s", h).singleElement().satisfies(r -> assertThat(r).contains("restart the node"));
      });
    }
  }

  @Test
  void aClosedNodeIsNotLive() {
    Node n1 = cluster.node("n1");
    cluster.stop("n1");
    assertThat(n1.health()).isEqualTo(new Health(false, false, List.of("node n1 is closed")));
  }
}
