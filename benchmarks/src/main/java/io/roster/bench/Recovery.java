package io.roster.bench;

import io.roster.Pid;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import io.roster.mirror.Mirror;
import io.roster.proto.BatchResult;
import io.roster.proto.Command;
import io.roster.proto.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import picocli.CommandLine;

import picocli.CommandLine.Option;

/**
 * Recovery at scale, against 3 voters in this JVM: with one follower stopped, fills a registry with
 * {@code --entries} registrations (each of its own pid, as most processes hold one name), snapshots
 * the leader and lets it purge its log; then measures, on that follower, the time from start to
 * serving {@code whereis} with every entry: (1) a start behind the purged log, which the leader
 * answers by installing its snapshot, (2) a restart from its own data after a stop. (A crash in this
 * JVM is not timed: Ratis snapshots a closing server, so it would be a stop; the replay after a real
 * crash is tested for correctness by {@code StoreCrashTest}.)
 * Serving means the node's mirror holds the last registration and has applied the cluster's last
 * index. Run with a heap for 3 mirrors, e.g. {@code -Xmx8g}.
 */
@CommandLine.Command(name = "recovery", mixinStandardHelpOptions = true,
    description = "Restart and snapshot install times with many registrations.")
public final class Recovery implements Callable<Integer> {
  private static final String REGISTRY = "recovery";

  @Option(names = "--entries", defaultValue = "1000000", description = "Registrations (default: ${DEFAULT-VALUE})")
  int entries;

  @Option(names = "--batch", defaultValue = "500", description = "Registrations per Raft entry (default: ${DEFAULT-VALUE})")
  int batch;

  public static void main(String[] args) {
    System.setProperty("roster.log.level", System.getProperty("roster.log.level", "WARN"));
    System.setProperty("roster.ratis.log.level", System.getProperty("roster.ratis.log.level", "OFF"));
    System.exit(new CommandLine(new Recovery()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    Path data = Files.createTempDirectory("roster-recovery-");
    try (LocalCluster cluster = LocalCluster.start(data, 3, Duration.ofSeconds(10), Duration.ofSeconds(30))) {
      cluster.awaitReady(Duration.ofSeconds(60));
      Node leader = cluster.leader();
      String follower = cluster.nodes().stream().map(Node::nodeId).filter(id -> !id.equals(leader.nodeId()))
          .findFirst().orElseThrow();
      leader.registry(REGISTRY).whereis("warm-up"); // creates the registry
      await("every voter has the registry", () -> cluster.nodes().stream()
          .allMatch(n -> n.mirror().registryState(REGISTRY) != null));
      long lagging = cluster.node(follower).mirror().appliedIndex();
      cluster.stop(follower); // it will lag behind everything that follows
      long filled = fill(cluster, leader, REGISTRY, entries, batch);
      System.out.printf("%d registrations in %d entries of %d while %s was down%n", filled,
          (entries + batch - 1) / batch, batch, follower);
      // Every running voter snapshots and purges, so that whichever leads cannot replay its log to the follower.
      List<Node> running = cluster.nodes();
      try (RaftClient client = rawClient(cluster, leader)) {
        for (Node n : running) {
          RaftClientReply snapshot = client.getSnapshotManagementApi(RaftPeerId.valueOf(n.nodeId())).create(120_000);
          if (!snapshot.isSuccess()) {
            throw new IllegalStateException("snapshot on " + n.nodeId() + " failed: " + snapshot.getException());
          }
        }
      }
      await("the voters purge their logs past " + follower,
          () -> running.stream().allMatch(n -> logStart(n) > lagging + 1));
      double install = startAndTime(cluster, follower);
      long installs = cluster.node(follower).stateMachine().snapshotsInstalled();
      System.out.printf("lagging follower behind the purged log: %s, serving in %.2f s%n",
          installs == 1 ? "snapshot installed" : "NO snapshot install (" + installs + ")", install);

      cluster.stop(follower);
      System.out.printf("restart after a stop: serving in %.2f s%n", startAndTime(cluster, follower));
      return filled == entries ? 0 : 1;
    } finally {
      LocalCluster.deleteTree(data);
    }
  }

  /**
   * Registers {@code entries} names in {@code registry} for processes of node {@code leader} (the
   * leader, or any node with an open session) through raw Ratis writes of {@code batch} commands.
   */
  static long fill(LocalCluster cluster, Node leader, String registry, int entries, int batch) throws Exception {
    long start = System.nanoTime();
    long done = 0;
    try (RaftClient client = rawClient(cluster, leader)) {
      List<Command> commands = new ArrayList<>(batch);
      for (int i = 0; i < entries; i++) {
        commands.add(Commands.register(registry, key(i), new byte[0], Pid.of(leader.nodeId(), leader.incarnation(),
            1_000_000_000L + i)));
        if (commands.size() == batch || i == entries - 1) {
          RaftClientReply reply = client.io().send(Message.valueOf(UnsafeByteOperations.unsafeWrap(
              Codec.encode(Codec.batchOf(commands)))));
          if (!reply.isSuccess()) {
            throw new IllegalStateException("a fill write failed: " + reply.getException());
          }
          BatchResult r = BatchResult.parseFrom(reply.getMessage().getContent().toByteArray());
          done += r.getResultsList().stream().filter(x -> x.getStatus() == Status.OK).count();
          commands.clear();
        }
      }
    }
    System.out.printf("filled in %.1f s%n", (System.nanoTime() - start) / 1e9);
    return done;
  }

  /** Starts the voter and returns the seconds until its mirror serves every entry. */
  private double startAndTime(LocalCluster cluster, String id) {
    long target = cluster.nodes().stream().mapToLong(n -> n.mirror().appliedIndex()).max().orElseThrow();
    String last = key(entries - 1);
    long start = System.nanoTime();
    Node node = cluster.startVoter(id);
    await(() -> id + " serves every entry; it has applied " + node.mirror().appliedIndex() + " of " + target
        + " and holds " + node.mirror().registrationCount() + " registrations", () -> {
      Mirror m = node.mirror();
      return m.appliedIndex() >= target && m.whereis(REGISTRY, last) != null;
    });
    double seconds = (System.nanoTime() - start) / 1e9;
    Mirror m = node.mirror();
    if (m.registrationCount() < entries) {
      throw new IllegalStateException(id + " serves " + m.registrationCount() + " of " + entries);
    }
    return seconds;
  }

  private static long logStart(Node leader) {
    try {
      return leader.raftServer().getDivision(leader.raftGroup().getGroupId()).getRaftLog().getStartIndex();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static void await(String what, BooleanSupplier condition) {
    await(() -> what, condition);
  }

  private static void await(java.util.function.Supplier<String> what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out: " + what.get());
      }
      try {
        Thread.sleep(5); // polling a condition, at 5 ms resolution
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }
  }

  /** A Ratis client on the cluster's group with the node's certificate, for writes that bypass the API. */
  static RaftClient rawClient(LocalCluster cluster, Node node) {
    // the node's own identity: the commands it carries are the node's own
    return cluster.ratisClient(node.raftGroup(), node.nodeId(),
        node.role() == io.roster.Role.VOTER ? io.roster.Tls.CertRole.VOTER : io.roster.Tls.CertRole.CLIENT,
        org.apache.ratis.retry.RetryPolicies.retryForeverWithSleep(
            org.apache.ratis.util.TimeDuration.valueOf(100, java.util.concurrent.TimeUnit.MILLISECONDS)));
  }

  static String key(int i) {
    return "service-" + i;
  }
}
