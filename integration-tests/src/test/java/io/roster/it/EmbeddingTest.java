package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.roster.RegistryNode;
import io.roster.RosterException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Roster embedded in an application's JVM never ends that JVM: Ratis' exits become exceptions. */
class EmbeddingTest {
  @TempDir Path dir;

  @Test
  void aVoterWhosePortIsTakenFailsToStartAndTheJvmLivesOn() throws Exception {
    Thread.UncaughtExceptionHandler mine = (t, e) -> { };
    Thread.UncaughtExceptionHandler before = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler(mine);
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      String address = "127.0.0.1:" + taken.getLocalPort();
      assertThatThrownBy(() -> RegistryNode.builder().nodeId("n1").listenAddress(address).voter("n1", address)
          .dataDir(dir).insecure().start())
          .isInstanceOf(RosterException.class)
          .hasMessageContaining("Address already in use");
      // Ratis did not take over the application's handler of uncaught exceptions
      assertThat(Thread.getDefaultUncaughtExceptionHandler()).isSameAs(mine);
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(before);
    }
  }

  @Test
  void joiningIsRefusedToAClientAndToAVoterThatListsNoOtherVoter() {
    assertThatThrownBy(() -> RegistryNode.builder().nodeId("n1").listenAddress("127.0.0.1:7001")
        .voter("n1", "127.0.0.1:7001").dataDir(dir).insecure().joining(true).start())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("a joining voter needs the running cluster's voters besides itself");
    assertThatThrownBy(() -> RegistryNode.builder().nodeId("c1").role(io.roster.Role.CLIENT)
        .voter("n1", "127.0.0.1:7001").insecure().joining(true).start())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("joining is for a voter");
  }
}
