package io.roster.it;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.roster.Pid;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import io.roster.core.RandomCommands;
import io.roster.apply.Replica;
import io.roster.ratis.RegistryStateMachine;
import io.roster.proto.BatchResult;
import io.roster.proto.Command;
import io.roster.proto.KeyMode;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.Status;
import io.roster.proto.Whereis;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.TreeSet;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.StateMachineException;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A 3-peer Raft group in one JVM: real Ratis over loopback gRPC, real RocksDB under a temp dir. */
class RaftGroupTest {
  static final Duration CATCH_UP = Duration.ofSeconds(60);

  @TempDir Path dir;
  RatisCluster cluster;
  RaftClient client;
  /** The same entries applied, at the same indexes, to a replica with no Raft around it. */
  Replica expected;
  long lastIndex;

  @BeforeEach
  void start() throws Exception {
    cluster = RatisCluster.start(dir.resolve("cluster"), 3);
    client = cluster.client();
    expected = Replica.open(dir.resolve("expected"));
  }

  @AfterEach
  void stop() throws Exception {
    try {
      cluster.close();
    } finally {
      expected.close();
    }
  }

  BatchResult write(List<Command> commands) throws Exception {
    byte[] entry = Codec.encode(Codec.batchOf(commands));
    RaftClientReply reply = client.io().send(Message.valueOf(UnsafeByteOperations.unsafeWrap(entry)));
    assertThat(reply.isSuccess()).as("%s", reply.getException()).isTrue();
    lastIndex = reply.getLogIndex();
    expected.applyEntry(ByteString.copyFrom(entry), 0, lastIndex);
    return BatchResult.parseFrom(reply.getMessage().getContent().toByteArray());
  }

  void writeRandom(long seed, int entries) throws Exception {
    RandomCommands gen = new RandomCommands(seed);
    write(gen.setup());
    for (int i = 0; i < entries; i++) {
      write(gen.batch(8));
    }
  }

  /** Waits until every running peer has applied {@code lastIndex}, then compares their state. */
  void assertAllPeersEqualExpected() {
    TreeSet<String> want = expected.mirror().describe();
    for (RaftPeerId id : cluster.ids()) {
      if (!cluster.running(id)) {
        continue;
      }
      Awaitility.await(id + " applies " + lastIndex).atMost(CATCH_UP).pollInterval(Duration.ofMillis(20))
          .until(() -> cluster.stateMachine(id).mirror().appliedIndex() >= lastIndex);
      assertThat(cluster.stateMachine(id).mirror().describe()).as("state of " + id).isEqualTo(want);
    }
  }

  @Test
  void commandsApplyIdenticallyOnAllPeers() throws Exception {
    writeRandom(11, 150);
    assertThat(expected.mirror().registrationCount()).isPositive();
    assertAllPeersEqualExpected();
  }

  @Test
  void aLinearizableReadOnAFollowerSeesTheLatestWrite() throws Exception {
    Pid pid = Pid.of("n1", 1, 1);
    write(List.of(Commands.openSession("n1", 1), Commands.createRegistry("u", KeyMode.UNIQUE)));
    RaftPeerId leader = cluster.leader();
    RaftPeerId follower = cluster.ids().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    for (int i = 0; i < 20; i++) {
      write(List.of(Commands.register("u", "key-" + i, new byte[0], pid)));
      Query q = Query.newBuilder().setWhereis(Whereis.newBuilder().setRegistry("u").setKey("key-" + i)).build();
      RaftClientReply reply = client.io().sendReadOnly(
          Message.valueOf(UnsafeByteOperations.unsafeWrap(q.toByteArray())), follower);
      QueryResult r = QueryResult.parseFrom(reply.getMessage().getContent().toByteArray());
      assertThat(r.getStatus()).isEqualTo(Status.OK);
      assertThat(r.getAppliedIndex()).isGreaterThanOrEqualTo(lastIndex);
      assertThat(r.getEntriesList()).singleElement()
          .satisfies(e -> assertThat(Codec.fromProto(e.getPid())).isEqualTo(pid));
    }
  }

  @Test
  void aFollowerBehindAPurgedLogCatchesUpThroughSnapshotInstall() throws Exception {
    writeRandom(12, 20);
    assertAllPeersEqualExpected();
    RaftPeerId leader = cluster.leader();
    RaftPeerId follower = cluster.ids().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    long followerApplied = cluster.stateMachine(follower).mirror().appliedIndex();
    cluster.stop(follower);

    RandomCommands more = new RandomCommands(13);
    for (int i = 0; i < 300; i++) {
      write(more.batch(8)); // about 20 log segments of 16 KB
    }
    RaftClientReply snapshot = client.getSnapshotManagementApi(leader).create(30_000);
    assertThat(snapshot.isSuccess()).as("%s", snapshot.getException()).isTrue();
    long logStart = Awaitility.await("the leader purges its log").atMost(CATCH_UP)
        .until(() -> startIndex(leader), start -> start > followerApplied + 1);
    assertThat(logStart).as("the follower's next entry is gone from the leader's log")
        .isGreaterThan(followerApplied + 1);
    for (int i = 0; i < 10; i++) {
      write(more.batch(8)); // entries after the snapshot: replayed from the log after the install
    }

    cluster.restart(follower);
    assertAllPeersEqualExpected();
    assertThat(cluster.stateMachine(follower).snapshotsInstalled()).isEqualTo(1);
  }

  @Test
  void aFollowerRefusesASnapshotWithFlippedBytesNamingTheFileAndTheOthersServe() throws Exception {
    writeRandom(16, 20);
    assertAllPeersEqualExpected();
    RaftPeerId leader = cluster.leader();
    RaftPeerId follower = cluster.ids().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    long followerApplied = cluster.stateMachine(follower).mirror().appliedIndex();
    cluster.stop(follower);
    RandomCommands more = new RandomCommands(17);
    for (int i = 0; i < 300; i++) {
      write(more.batch(8));
    }
    assertThat(client.getSnapshotManagementApi(leader).create(30_000).isSuccess()).isTrue();
    Awaitility.await("the leader purges its log").atMost(CATCH_UP)
        .until(() -> startIndex(leader), start -> start > followerApplied + 1);
    // the snapshot the leader will send: flip bytes in its MANIFEST (a copy, not a link to the live store)
    java.nio.file.Path snapshotDir = cluster.stateMachine(leader).getStateMachineStorage().getLatestSnapshot()
        .getFiles().get(0).getPath().getParent();
    java.nio.file.Path manifest;
    try (var files = java.nio.file.Files.list(snapshotDir)) {
      manifest = files.filter(f -> f.getFileName().toString().startsWith("MANIFEST-")).findFirst().orElseThrow();
    }
    io.roster.store.Damage.flip(manifest);

    cluster.restart(follower);
    RegistryStateMachine refused = cluster.stateMachine(follower);
    Awaitility.await("the follower refuses the snapshot").atMost(CATCH_UP)
        .until(() -> refused.stopped() != null);
    assertThat(refused.stopped()).contains("corrupt").contains(manifest.getFileName().toString());
    assertThatThrownBy(refused::mirror).hasMessageContaining("corrupt");
    // the leader and the other follower keep serving
    writeRandom(18, 10);
    for (RaftPeerId id : cluster.ids()) {
      if (!id.equals(follower)) {
        Awaitility.await().atMost(CATCH_UP).until(() -> cluster.stateMachine(id).mirror().describe()
            .equals(expected.mirror().describe()));
      }
    }
  }

  private long startIndex(RaftPeerId id) throws Exception {
    return cluster.server(id).getDivision(RatisCluster.GROUP_ID).getRaftLog().getStartIndex();
  }

  @Test
  void restartingEveryPeerFromDiskKeepsTheStateAndAppliesNothingTwice() throws Exception {
    writeRandom(14, 100);
    Pid pid = Pid.of("n1", 1, 3);
    // Non-idempotent on purpose: each application adds another entry.
    write(List.of(Commands.register("d1", "twice?", "a".getBytes(UTF_8), pid),
        Commands.register("d1", "twice?", "a".getBytes(UTF_8), pid)));
    assertAllPeersEqualExpected();
    RaftPeerId leader = cluster.leader();
    assertThat(client.getSnapshotManagementApi(leader).create(30_000).isSuccess()).isTrue();
    writeRandom(15, 30); // the live stores are ahead of the snapshot

    for (RaftPeerId id : cluster.ids()) {
      cluster.stop(id);
    }
    for (RaftPeerId id : cluster.ids()) {
      cluster.restart(id);
    }
    cluster.leader();
    assertAllPeersEqualExpected();
    for (RaftPeerId id : cluster.ids()) {
      RegistryStateMachine sm = cluster.stateMachine(id);
      long entries = sm.mirror().lookup("d1", "twice?").stream().filter(r -> r.pid().equals(pid)).count();
      assertThat(entries).as("entries of " + id).isEqualTo(expected.mirror().lookup("d1", "twice?").stream()
          .filter(r -> r.pid().equals(pid)).count());
    }
    // and the group still takes writes
    BatchResult after = write(List.of(Commands.createRegistry("after-restart", KeyMode.UNIQUE)));
    assertThat(after.getResults(0).getStatus()).isEqualTo(Status.OK);
    assertAllPeersEqualExpected();
  }

  @Test
  void malformedBytesAreRefusedBeforeTheyReachTheLog() throws Exception {
    writeRandom(16, 5);
    assertAllPeersEqualExpected();
    RaftPeerId leader = cluster.leader();
    long lastLogIndex = cluster.server(leader).getDivision(RatisCluster.GROUP_ID).getRaftLog().getLastEntryTermIndex()
        .getIndex();
    assertThatThrownBy(() -> client.io().send(Message.valueOf("not a command")))
        .isInstanceOf(StateMachineException.class)
        .hasMessageContaining("not a Roster command frame");
    assertThat(cluster.server(leader).getDivision(RatisCluster.GROUP_ID).getRaftLog().getLastEntryTermIndex()
        .getIndex()).isEqualTo(lastLogIndex);
    assertAllPeersEqualExpected();
  }

  /** Sends {@code entry} through {@code via} and applies it to {@code expected} at the index it got. */
  BatchResult send(RaftClient via, byte[] entry) throws Exception {
    RaftClientReply reply = via.io().send(Message.valueOf(UnsafeByteOperations.unsafeWrap(entry)));
    assertThat(reply.isSuccess()).as("%s", reply.getException()).isTrue();
    lastIndex = reply.getLogIndex();
    expected.applyEntry(ByteString.copyFrom(entry), 0, lastIndex);
    return BatchResult.parseFrom(reply.getMessage().getContent().toByteArray());
  }

  @Test
  void anEntryTheLogHoldsTwiceAppliesOnceOnEveryPeerAcrossSnapshotsAndRestarts() throws Exception {
    // A retry that a new leader appends again (the first copy's leader stepped down and failed it,
    // so no retry cache knows it) puts the same entry in the log twice. Here the second copy comes
    // through another client, which no retry cache can match to the first.
    Pid pid = Pid.of("n1", 1, 4);
    write(List.of(Commands.openSession("n1", 1), Commands.createRegistry("d", KeyMode.DUPLICATE)));
    byte[] entry = Codec.encode(Codec.batchOf(List.of(Commands.register("d", "once", "a".getBytes(UTF_8), pid)),
        "n1", 42, 1));
    BatchResult first = send(client, entry);
    assertThat(first.getResults(0).getStatus()).isEqualTo(Status.OK);
    RaftPeerId leader = cluster.leader();
    assertThat(client.getSnapshotManagementApi(leader).create(30_000).isSuccess()).isTrue();

    BatchResult second = send(cluster.client(), entry);
    assertThat(second).as("the repeat is answered with the first copy's results").isEqualTo(first);
    assertAllPeersEqualExpected();
    for (RaftPeerId id : cluster.ids()) {
      assertThat(cluster.stateMachine(id).mirror().lookup("d", "once")).as("entries on " + id).hasSize(1);
    }

    // restarted from the snapshot, each peer replays both copies: still one registration
    for (RaftPeerId id : cluster.ids()) {
      cluster.stop(id);
    }
    for (RaftPeerId id : cluster.ids()) {
      cluster.restart(id);
    }
    cluster.leader();
    BatchResult third = send(cluster.client(), entry);
    assertThat(third).isEqualTo(first);
    assertAllPeersEqualExpected();
    for (RaftPeerId id : cluster.ids()) {
      assertThat(cluster.stateMachine(id).mirror().lookup("d", "once")).as("entries on " + id).hasSize(1);
    }
  }
}

