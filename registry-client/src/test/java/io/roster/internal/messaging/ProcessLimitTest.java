package io.roster.internal.messaging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.roster.LimitExceededException;
import io.roster.LocalProcess;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

/** A node's processes are bounded: spawning beyond the limit is refused, and a closed one makes room. */
class ProcessLimitTest {
  @Test
  void spawnBeyondTheLimitIsRefusedUntilOneCloses() {
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      ProcessTable table = new ProcessTable("n1", 1, threads, pid -> CompletableFuture.completedFuture(null), 1_000, 3);
      LocalProcess first = table.spawn(null);
      table.spawn(null);
      table.spawn(null);
      assertThatThrownBy(() -> table.spawn(null)).isInstanceOf(LimitExceededException.class)
          .hasMessage("node n1 has 3 processes alive, its limit (RegistryNode.Builder.processesMax): close some first");
      assertThat(table.size()).isEqualTo(3);
      first.close();
      assertThat(table.spawn(null)).isNotNull();
    } finally {
      threads.shutdownNow();
    }
  }
}
