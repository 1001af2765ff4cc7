package io.roster.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.Keys;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.ValueCodec;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The README's example of {@link RosterCluster}, as it is written there. */
class RosterClusterExampleTest {
  @RegisterExtension
  static final RosterCluster cluster = RosterCluster.voters(3).sessionTimeout(Duration.ofSeconds(3)).build();

  /** The cluster the class started. */
  static LocalCluster started;

  @org.junit.jupiter.api.BeforeAll
  static void remember() {
    started = cluster.cluster();
  }

  @Test
  void billingIsFoundAfterALeaderCrash() {
    RegistryNode app = cluster.client("app");
    Registry<String> services = app.registry("services", Keys.UNIQUE, ValueCodec.utf8());
    services.register("billing", app.spawn(), "v1");
    String leader = cluster.leader();
    cluster.crash(leader);
    assertThat(services.whereisConsistent("billing")).isNotNull();
    cluster.restart(leader);
    assertThat(cluster.voters()).hasSize(3);
    assertThat(cluster.votersList()).startsWith("n1=127.0.0.1:");
  }

  @Test
  void aClassWideClusterServesEveryTest() {
    assertThat(cluster.cluster().nodes()).hasSizeGreaterThanOrEqualTo(3);
    assertThat(cluster.clientTls("other").cert()).exists();
  }

  /** A nested class shares the enclosing class's cluster: it is not started twice. */
  @org.junit.jupiter.api.Nested
  class Nested {
    @Test
    void seesTheSameCluster() {
      assertThat(cluster.cluster()).isSameAs(started); // not a second cluster, leaking the first
      assertThat(cluster.voters()).hasSize(3);
      assertThat(cluster.leader()).isNotNull();
    }
  }
}
