package io.roster.core;

import static io.roster.schema.Commands.acquireLock;
import static io.roster.schema.Commands.createRegistry;
import static io.roster.schema.Commands.expireSession;
import static io.roster.schema.Commands.openSession;
import static io.roster.schema.Commands.putMeta;
import static io.roster.schema.Commands.register;
import static io.roster.schema.Commands.releaseLock;
import static io.roster.schema.Commands.unregister;
import static io.roster.schema.Commands.unregisterPid;
import static io.roster.schema.Commands.updateValue;
import static org.assertj.core.api.Assertions.assertThat;

import io.roster.Pid;
import io.roster.core.Authorization.Identity.Kind;
import io.roster.core.Authorization.Identity;
import io.roster.mirror.Mirror;
import io.roster.proto.Command;
import io.roster.proto.CreateRegistry;
import io.roster.proto.Heartbeat;
import io.roster.proto.KeyMode;
import io.roster.proto.Query;
import io.roster.schema.Commands;
import java.util.List;
import org.junit.jupiter.api.Test;

class AuthorizationTest {
  static final Identity C1 = new Identity("c1", Kind.CLIENT);
  static final Identity N1 = new Identity("n1", Kind.VOTER);
  static final Identity N2 = new Identity("n2", Kind.VOTER);
  static final Identity OPS = new Identity("ops", Kind.ADMIN);
  static final Pid OWN = Pid.of("c1", 7, 1);
  static final Pid OTHER = Pid.of("n2", 3, 1);
  static final Mirror EMPTY = new Mirror();

  static String refusal(Command c, Identity who) {
    return Authorization.refusal(c, who, "n1", 5, EMPTY);
  }

  @Test
  void aNodeWritesForItsOwnProcessesOnly() {
    List<Command> own = List.of(register("r", "k", new byte[0], OWN), unregister("r", "k", OWN), unregisterPid(OWN),
        updateValue("r", "k", new byte[0], OWN), acquireLock("r", "l", OWN), releaseLock("r", "l", OWN));
    List<Command> other = List.of(register("r", "k", new byte[0], OTHER), unregister("r", "k", OTHER),
        unregisterPid(OTHER), updateValue("r", "k", new byte[0], OTHER), acquireLock("r", "l", OTHER),
        releaseLock("r", "l", OTHER));
    own.forEach(c -> assertThat(refusal(c, C1)).as(c.getKindCase().toString()).isNull());
    other.forEach(c -> assertThat(refusal(c, C1)).as(c.getKindCase().toString())
        .isEqualTo("c1 (client) may not write for a process of node n2"));
    // an admin or the leader has no more rights over another node's processes
    other.forEach(c -> assertThat(refusal(c, OPS)).isNotNull());
    other.forEach(c -> assertThat(refusal(c, N1)).isNotNull());
  }

  @Test
  void aNodeNumbersOnlyItsOwnEntries() {
    io.roster.proto.WriterTag own = io.roster.proto.WriterTag.newBuilder().setNodeId("c1").setWriter(9).setSeq(1).build();
    assertThat(Authorization.refusal(own, C1)).isNull();
    // another node's writer with a high seq would make the peers skip that node's next entries
    io.roster.proto.WriterTag other = own.toBuilder().setNodeId("n2").build();
    assertThat(Authorization.refusal(other, C1)).isEqualTo("c1 (client) may not send entries as the writer of node n2");
    assertThat(Authorization.refusal(other, OPS)).isNotNull();
    assertThat(Authorization.refusal(other, N1)).isNotNull();
  }

  @Test
  void aNodeOpensOnlyItsOwnSession() {
    assertThat(refusal(openSession("c1", 7), C1)).isNull();
    assertThat(refusal(openSession("n2", 7), C1)).isEqualTo("c1 (client) may not open the session of node n2");
  }

  @Test
  void aSessionEndsByItsNodeOrByTheLeadersExpiryInItsTerm() {
    assertThat(refusal(expireSession("c1", 7), C1)).as("its own goodbye").isNull();
    assertThat(refusal(expireSession("c1", 7, 5), N1)).as("the leader, in its term").isNull();
    assertThat(refusal(expireSession("c1", 7, 4), N1)).as("the leader, an earlier term").isNotNull();
    assertThat(refusal(expireSession("c1", 7), N1)).as("the leader, no term").isNotNull();
    assertThat(refusal(expireSession("c1", 7, 5), N2)).as("a follower").isNotNull();
    assertThat(refusal(expireSession("c1", 7, 5), OPS)).as("an admin").isNotNull();
    assertThat(refusal(expireSession("n2", 3), C1)).startsWith("c1 (client) may not end the session of node n2");
    // a certificate that names the leader but not as a voter
    assertThat(refusal(expireSession("c1", 7, 5), new Identity("n1", Kind.CLIENT))).isNotNull();
  }

  @Test
  void aClientNodeOpensAPartitionedRegistryButCreatesOnlyUnpartitionedOnes() {
    Command partitioned = createRegistry(CreateRegistry.newBuilder().setRegistry("spread").setMode(KeyMode.UNIQUE)
        .setPartitions(4).build());
    assertThat(refusal(createRegistry("plain", KeyMode.UNIQUE), C1)).isNull();
    assertThat(refusal(partitioned, C1)).contains("needs a voter or admin certificate");
    assertThat(refusal(partitioned, N2)).isNull();
    assertThat(refusal(partitioned, OPS)).isNull();
    CoreHarness h = new CoreHarness();
    h.run(partitioned);
    assertThat(Authorization.refusal(partitioned, C1, "n1", 5, h.mirror)).as("it exists: opening it").isNull();
    assertThat(refusal(putMeta("plain", "k", new byte[0]), C1)).isNull();
  }

  @Test
  void aHeartbeatKeepsOnlyTheSendersSessionAlive() {
    Query own = Query.newBuilder().setHeartbeat(Heartbeat.newBuilder().setNodeId("c1").setIncarnation(7)).build();
    Query other = Query.newBuilder().setHeartbeat(Heartbeat.newBuilder().setNodeId("n2").setIncarnation(3)).build();
    assertThat(Authorization.refusal(own, C1, () -> true)).isNull();
    assertThat(Authorization.refusal(other, C1, () -> true)).isEqualTo("c1 (client) may not heartbeat for node n2");
  }

  @Test
  void digestChecksAreForVotersAndAdmins() {
    Command check = Commands.digestCheck();
    assertThat(refusal(check, C1)).isEqualTo("c1 (client) may not ask for a digest check: voters and admins do");
    assertThat(refusal(check, N2)).isNull();
    assertThat(refusal(check, OPS)).isNull();
    Query digest = Query.newBuilder().setDigestAt(io.roster.proto.DigestAt.newBuilder().setIndex(9)).build();
    assertThat(Authorization.refusal(digest, C1, () -> true)).contains("may not ask for a replica's digest");
    assertThat(Authorization.refusal(digest, N2, () -> false)).isNull();
  }

  @Test
  void theWholeStateAndTheChangeStreamAreForMembersOnly() {
    Query dump = Query.newBuilder().setDump(io.roster.proto.Dump.getDefaultInstance()).build();
    Query changes = Query.newBuilder().setChanges(io.roster.proto.Changes.newBuilder().setFromIndex(3))
        .build();
    Query whereis = Query.newBuilder().setWhereis(io.roster.proto.Whereis.newBuilder()
        .setRegistry("services").setKey("billing")).build();
    for (Query q : List.of(dump, changes)) {
      assertThat(Authorization.refusal(q, C1, () -> true)).as("a client with an open session").isNull();
      assertThat(Authorization.refusal(q, C1, () -> false)).as("a client without one")
          .startsWith("c1 (client) is not a member of this group");
      assertThat(Authorization.refusal(q, N2, () -> false)).as("a voter").isNull();
      assertThat(Authorization.refusal(q, OPS, () -> false)).as("an admin").isNull();
    }
    assertThat(Authorization.refusal(whereis, C1, () -> {
      throw new AssertionError("membership is not asked for a read by key");
    })).isNull();
  }
}
