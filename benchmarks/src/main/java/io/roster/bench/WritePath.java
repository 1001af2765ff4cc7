package io.roster.bench;

import io.roster.Consistency;
import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import io.roster.proto.Barrier;
import io.roster.proto.Query;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.metrics.MetricRegistries;
import org.apache.ratis.metrics.RatisMetricRegistry;
import org.apache.ratis.metrics.impl.RatisMetricRegistryImpl;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Takes one write's latency apart, at one operation in flight against 3 voters in this JVM: the
 * read-index round trip (an RPC to the leader and its heartbeat round to a majority), a raw Ratis
 * write of a one-command entry (log append, fsync on a majority, apply, reply; no group commit), and
 * {@code register} through the API from the leader and from a follower. The differences say where a
 * write's time goes.
 */
@Command(name = "write-path", mixinStandardHelpOptions = true,
    description = "Latency of one write, stage by stage, at one operation in flight.")
public final class WritePath implements Callable<Integer> {
  @Option(names = "--duration", defaultValue = "PT10S", description = "Measured time per stage (default: ${DEFAULT-VALUE})")
  Duration duration;

  @Option(names = "--in-flight", defaultValue = "1", description = "Operations in flight (default: ${DEFAULT-VALUE})")
  int inFlight;

  @Option(names = "--warmup", defaultValue = "PT5S", description = "Warm-up per stage (default: ${DEFAULT-VALUE})")
  Duration warmup;

  public static void main(String[] args) {
    System.setProperty("roster.log.level", System.getProperty("roster.log.level", "WARN"));
    System.setProperty("roster.ratis.log.level", System.getProperty("roster.ratis.log.level", "OFF"));
    System.exit(new CommandLine(new WritePath()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    Path data = Files.createTempDirectory("roster-write-path-");
    try (LocalCluster cluster = LocalCluster.start(data, 3, Duration.ofSeconds(5), Duration.ofSeconds(10))) {
      cluster.awaitReady(Duration.ofSeconds(60));
      Node leader = cluster.leader();
      Node follower = cluster.nodes().stream().filter(n -> n != leader).findFirst().orElseThrow();
      System.out.printf("3 voters in this JVM, %d cores; leader %s; %d in flight; %s warm-up, %s measured%n",
          Runtime.getRuntime().availableProcessors(), leader.nodeId(), inFlight, warmup, duration);
      System.out.println(Load.Point.HEADER);
      try (RaftClient raw = Recovery.rawClient(cluster, leader)) {
        RaftPeerId leaderId = RaftPeerId.valueOf(leader.nodeId());
        Message barrier = Message.valueOf(ByteString.copyFrom(
            Query.newBuilder().setBarrier(Barrier.getDefaultInstance()).build().toByteArray()));
        // A command that goes through the whole log path and changes nothing: no such registry.
        Message noop = Message.valueOf(ByteString.copyFrom(Codec.encode(Commands.putMeta("no-such-registry", "k",
            new byte[16]))));
        print("ratis-read-index", seq -> check(raw.io().sendReadOnly(barrier, leaderId).isSuccess()));
        print("ratis-write", seq -> check(raw.io().send(noop).isSuccess()));
      }
      printRatisTimers();
      Registry<byte[]> onLeader = leader.registry("write-path");
      Registry<byte[]> onFollower = follower.registry("write-path");
      print("whereisConsistent@leader", () -> onLeader.whereis("x", Consistency.LINEARIZABLE));
      print("whereisConsistent@follower", () -> onFollower.whereis("x", Consistency.LINEARIZABLE));
      printEach("register@leader", w -> registering(leader, onLeader, "l-" + w));
      printEach("register@follower", w -> registering(follower, onFollower, "f-" + w));
      Node client = cluster.startClient("c1");
      client.ready().get(60, java.util.concurrent.TimeUnit.SECONDS);
      Registry<byte[]> onClient = client.registry("write-path");
      printEach("register@client", w -> registering(client, onClient, "c-" + w));
      return 0;
    } finally {
      LocalCluster.deleteTree(data);
    }
  }

  /**
   * Ratis' own timers (log queue, write, fsync, append round trips, apply), as their means over
   * the run so far: where the time of a Ratis write goes, peer by peer.
   */
  private static void printRatisTimers() {
    System.out.println("  Ratis timers (mean ms of the recent samples Ratis keeps, count since start), per peer:");
    for (RatisMetricRegistry r : MetricRegistries.global().getMetricRegistries()) {
      if (!(r instanceof RatisMetricRegistryImpl impl)) {
        continue;
      }
      impl.getDropWizardMetricRegistry().getTimers().forEach((name, t) -> {
        if (t.getCount() > 100) {
          System.out.printf("    %-60s %-45s %8.3f %8d%n", r.getMetricRegistryInfo().getMetricsComponentName()
              + "." + r.getMetricRegistryInfo().getPrefix(), name, t.getSnapshot().getMean() / 1e6, t.getCount());
        }
      });
    }
  }

  /** Registers unique keys, moving to a new process every 5,000 (a process holds at most 10,000 keys). */
  private static ClosedLoop.Operation registering(Node node, Registry<byte[]> registry, String prefix) {
    LocalProcess[] process = {node.spawn()};
    return seq -> {
      if (seq > 0 && seq % 5_000 == 0) {
        process[0].close();
        process[0] = node.spawn();
      }
      registry.register(prefix + "-" + seq, process[0]);
    };
  }

  private static void check(boolean success) {
    if (!success) {
      throw new IllegalStateException("request failed");
    }
  }

  private void print(String stage, Runnable op) throws InterruptedException {
    print(stage, seq -> op.run());
  }

  private void print(String stage, ClosedLoop.Operation op) throws InterruptedException {
    printEach(stage, w -> op);
  }

  private void printEach(String stage, java.util.function.IntFunction<ClosedLoop.Operation> ops)
      throws InterruptedException {
    ClosedLoop.Result r = ClosedLoop.run(inFlight, warmup, duration, ops);
    System.out.println(new Load.Point("roster", stage, inFlight, r.opsPerSecond(), r.percentileMillis(50),
        r.percentileMillis(99), r.percentileMillis(99.9)).row() + (r.errors() > 0 ? "  errors " + r.errors() : ""));
  }
}
