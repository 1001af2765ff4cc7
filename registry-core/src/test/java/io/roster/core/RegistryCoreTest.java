package io.roster.core;

import static io.roster.proto.KeyMode.DUPLICATE;
import static io.roster.proto.KeyMode.UNIQUE;
import static io.roster.schema.Commands.acquireLock;
import static io.roster.schema.Commands.createRegistry;
import static io.roster.schema.Commands.deleteMeta;
import static io.roster.schema.Commands.expireSession;
import static io.roster.schema.Commands.openSession;
import static io.roster.schema.Commands.putMeta;
import static io.roster.schema.Commands.register;
import static io.roster.schema.Commands.releaseLock;
import static io.roster.schema.Commands.unregister;
import static io.roster.schema.Commands.unregisterPid;
import static io.roster.schema.Commands.updateValue;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import io.roster.Pid;
import io.roster.proto.Command;
import io.roster.proto.CreateRegistry;
import io.roster.proto.KeyMode;
import io.roster.proto.PidProto;
import io.roster.proto.Register;
import io.roster.proto.Result;
import io.roster.proto.Status;
import io.roster.schema.Change.Registered;
import io.roster.schema.Change.Unregistered;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import io.roster.schema.Limits;
import io.roster.schema.Registration;
import io.roster.schema.RegistryDescriptor;
import io.roster.schema.Revisions;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class RegistryCoreTest {
  static final Pid A = Pid.of("n1", 1, 1);
  static final Pid B = Pid.of("n1", 1, 2);
  static final Pid C = Pid.of("n2", 7, 1);

  CoreHarness h;

  @BeforeEach
  void setUp() {
    h = new CoreHarness();
    assertThat(h.run(openSession("n1", 1)).getStatus()).isEqualTo(Status.OK);
    assertThat(h.run(openSession("n2", 7)).getStatus()).isEqualTo(Status.OK);
    assertThat(h.run(createRegistry("u", UNIQUE)).getStatus()).isEqualTo(Status.OK);
    assertThat(h.run(createRegistry("d", DUPLICATE)).getStatus()).isEqualTo(Status.OK);
  }

  static byte[] v(String s) {
    return s.getBytes(UTF_8);
  }

  /** Asserts that a command fails with {@code status} and changes nothing. */
  void assertRejected(Command command, Status status) {
    TreeSet<String> before = h.mirror.describe();
    Result r = h.run(command);
    assertThat(r.getStatus()).as(r.getDetail()).isEqualTo(status);
    assertThat(r.getDetail()).isNotEmpty();
    assertThat(h.mirror.describe()).isEqualTo(before);
  }

  @Nested
  class CreateRegistryCommand {
    CreateRegistry.Builder withMeta(String name, String... keysAndValues) {
      CreateRegistry.Builder b = CreateRegistry.newBuilder().setRegistry(name).setMode(UNIQUE);
      for (int i = 0; i < keysAndValues.length; i += 2) {
        b.addMeta(io.roster.proto.MetaEntry.newBuilder().setKey(keysAndValues[i])
            .setValue(ByteString.copyFrom(v(keysAndValues[i + 1]))));
      }
      return b;
    }

    @Test
    void aRegistryCreatedWithMetaHasItFromItsCreationOn() {
      Result r = h.run(Commands.createRegistry(withMeta("with-meta", "custom_key", "custom_value").build()));
      assertThat(r.getStatus()).isEqualTo(Status.OK);
      assertThat(h.mirror.meta("with-meta", "custom_key")).isEqualTo(v("custom_value"));
      // opening it again with other metadata changes nothing
      assertThat(h.run(Commands.createRegistry(withMeta("with-meta", "custom_key", "other", "more", "x").build()))
          .getStatus()).isEqualTo(Status.OK);
      assertThat(h.mirror.meta("with-meta", "custom_key")).isEqualTo(v("custom_value"));
      assertThat(h.mirror.meta("with-meta", "more")).isNull();
    }

    @Test
    void badInitialMetaIsRefusedAndCreatesNothing() {
      assertRejected(Commands.createRegistry(withMeta("m1", "k", "a", "k", "b").build()), Status.INVALID_ARGUMENT);
      assertRejected(Commands.createRegistry(withMeta("m2", "", "a").build()), Status.INVALID_ARGUMENT);
      assertRejected(Commands.createRegistry(withMeta("m3", "k", "x".repeat(Limits.VALUE_BYTES_DEFAULT + 1)).build()),
          Status.LIMIT_EXCEEDED);
      assertThat(h.mirror.registry("m1")).isNull();
    }

    @Test
    void createsARegistryWithDefaults() {
      Result r = h.run(createRegistry("new", UNIQUE));
      assertThat(r.getStatus()).isEqualTo(Status.OK);
      RegistryDescriptor d = h.mirror.registry("new");
      assertThat(d.mode()).isEqualTo(UNIQUE);
      assertThat(d.partitions()).isEqualTo(1);
      assertThat(d.maxKeyBytes()).isEqualTo(Limits.KEY_BYTES_DEFAULT);
      assertThat(d.maxValueBytes()).isEqualTo(Limits.VALUE_BYTES_DEFAULT);
      assertThat(d.maxRegistrationsPerPid()).isEqualTo(Limits.REGISTRATIONS_PER_PID_DEFAULT);
      assertThat(d.revision()).isEqualTo(Revisions.index(r.getRevision())); // the descriptor keeps the entry's index
    }

    @Test
    void isIdempotentWithTheSameSettings() {
      TreeSet<String> before = h.mirror.describe();
      assertThat(h.run(createRegistry("u", UNIQUE)).getStatus()).isEqualTo(Status.OK);
      assertThat(h.mirror.describe()).isEqualTo(before);
    }

    @Test
    void otherSettingsForAnExistingNameAreAMismatch() {
      assertRejected(createRegistry("u", DUPLICATE), Status.REGISTRY_MISMATCH);
    }

    @Test
    void rejectsAMissingModeAnEmptyOrLongNameAndSettingsAboveTheCaps() {
      assertRejected(createRegistry("x", KeyMode.KEY_MODE_UNSPECIFIED), Status.INVALID_ARGUMENT);
      assertRejected(createRegistry("", UNIQUE), Status.INVALID_ARGUMENT);
      assertRejected(createRegistry("x".repeat(Limits.REGISTRY_NAME_BYTES_MAX + 1), UNIQUE), Status.LIMIT_EXCEEDED);
      assertRejected(createRegistry(CreateRegistry.newBuilder().setRegistry("x").setMode(UNIQUE)
          .setPartitions(Limits.PARTITIONS_MAX + 1).build()), Status.INVALID_ARGUMENT);
      assertRejected(createRegistry(CreateRegistry.newBuilder().setRegistry("x").setMode(UNIQUE)
          .setMaxKeyBytes(Limits.KEY_BYTES_CAP + 1).build()), Status.INVALID_ARGUMENT);
      assertRejected(createRegistry(CreateRegistry.newBuilder().setRegistry("x").setMode(UNIQUE)
          .setMaxValueBytes(-1).build()), Status.INVALID_ARGUMENT);
      assertRejected(createRegistry(CreateRegistry.newBuilder().setRegistry("x").setMode(UNIQUE)
          .setMaxRegistrationsPerPid(Limits.REGISTRATIONS_PER_PID_CAP + 1).build()), Status.INVALID_ARGUMENT);
    }

    @Test
    void duplicateByKeyIsADuplicateMode() {
      assertThat(h.run(createRegistry("by-key", KeyMode.DUPLICATE_BY_KEY)).getStatus()).isEqualTo(Status.OK);
      assertThat(h.run(register("by-key", "k", new byte[0], A)).getStatus()).isEqualTo(Status.OK);
      assertThat(h.run(register("by-key", "k", new byte[0], A)).getStatus()).isEqualTo(Status.OK);
      assertThat(h.mirror.lookup("by-key", "k")).hasSize(2);
      assertRejected(createRegistry("by-key", DUPLICATE), Status.REGISTRY_MISMATCH);
    }

    @Test
    void aPartitionedRegistryRecordsItsFirstVotersAndValidVotersOnly() {
      java.util.function.BiFunction<String, String, io.roster.proto.Voter> voter =
          (id, address) -> io.roster.proto.Voter.newBuilder().setId(id).setAddress(address).build();
      CreateRegistry.Builder p2 = CreateRegistry.newBuilder().setRegistry("p2").setMode(UNIQUE).setPartitions(2);
      assertRejected(createRegistry(p2.clone().addVoters(voter.apply("n1", "h:1")).addVoters(voter.apply("n1", "h:2"))
          .build()), Status.INVALID_ARGUMENT); // twice
      assertRejected(createRegistry(p2.clone().addVoters(voter.apply("n1", "no port")).build()),
          Status.INVALID_ARGUMENT);
      assertRejected(createRegistry(p2.clone().setPartitions(1).addVoters(voter.apply("n1", "h:1")).build()),
          Status.INVALID_ARGUMENT); // not partitioned
      assertThat(h.run(createRegistry(p2.clone().addVoters(voter.apply("n2", "h:2")).addVoters(voter.apply("n1", "h:1"))
          .build())).getStatus()).isEqualTo(Status.OK);
      assertThat(h.mirror.registry("p2").voters()).containsExactly(java.util.Map.entry("n1", "h:1"),
          java.util.Map.entry("n2", "h:2"));
      // opened again with other voters (after a membership change): the same registry
      assertThat(h.run(createRegistry(p2.clone().addVoters(voter.apply("n3", "h:3")).build())).getStatus())
          .isEqualTo(Status.OK);
      assertThat(h.mirror.registry("p2").voters()).containsOnlyKeys("n1", "n2");
    }

    @Test
    void aPartitionedRegistryKeepsOnlyItsDescriptorAndMetadataHere() {
      assertThat(h.run(createRegistry(CreateRegistry.newBuilder().setRegistry("p4").setMode(UNIQUE)
          .setPartitions(4).build())).getStatus()).isEqualTo(Status.OK);
      assertThat(h.run(putMeta("p4", "m", new byte[] {1})).getStatus()).isEqualTo(Status.OK);
      assertRejected(register("p4", "k", new byte[0], A), Status.INVALID_ARGUMENT);
      assertRejected(unregister("p4", "k", A), Status.INVALID_ARGUMENT);
      assertRejected(acquireLock("p4", "lock", A), Status.INVALID_ARGUMENT);
      assertRejected(releaseLock("p4", "lock", A), Status.INVALID_ARGUMENT);
    }

    @Test
    void partitionGroupsAreCappedClusterWide() {
      for (int i = 0; i < Limits.PARTITION_GROUPS_MAX / Limits.PARTITIONS_MAX; i++) {
        assertThat(h.run(createRegistry(CreateRegistry.newBuilder().setRegistry("big" + i).setMode(UNIQUE)
            .setPartitions(Limits.PARTITIONS_MAX).build())).getStatus()).isEqualTo(Status.OK);
      }
      assertRejected(createRegistry(CreateRegistry.newBuilder().setRegistry("one-more").setMode(UNIQUE)
          .setPartitions(2).build()), Status.LIMIT_EXCEEDED);
      assertThat(h.run(createRegistry("unpartitioned", UNIQUE)).getStatus()).isEqualTo(Status.OK);
    }

    @Test
    void namesAreMeasuredInUtf8Bytes() {
      String name = "\u00e9".repeat(Limits.REGISTRY_NAME_BYTES_MAX / 2); // 2 bytes each: exactly the limit
      assertThat(h.run(createRegistry(name, UNIQUE)).getStatus()).isEqualTo(Status.OK);
      assertRejected(createRegistry(name + "\u00e9", UNIQUE), Status.LIMIT_EXCEEDED);
    }
  }

  @Nested
  class RegisterCommand {
    @Test
    void uniqueRegisterSucceedsWithItsRevision() {
      Result r = h.run(register("u", "k", v("1"), A));
      assertThat(r.getStatus()).isEqualTo(Status.OK);
      assertThat(r.getRevision()).isEqualTo(Revisions.of(h.revision, 0));
      assertThat(h.mirror.whereis("u", "k")).isEqualTo(A);
      assertThat(h.mirror.lookup("u", "k")).singleElement()
          .satisfies(reg -> assertThat(reg.valueUnsafe()).isEqualTo(v("1")));
    }

    @Test
    void aTakenUniqueKeyAnswersWithItsOwner() {
      h.run(register("u", "k", v("1"), A));
      TreeSet<String> before = h.mirror.describe();
      Result r = h.run(register("u", "k", v("2"), B));
      assertThat(r.getStatus()).isEqualTo(Status.ALREADY_REGISTERED);
      assertThat(Codec.fromProto(r.getOwner())).isEqualTo(A);
      assertThat(h.mirror.describe()).isEqualTo(before);
      // the owner itself registering again is also refused, with itself as the owner (as in Elixir)
      assertThat(Codec.fromProto(h.run(register("u", "k", v("3"), A)).getOwner())).isEqualTo(A);
    }

    @Test
    void duplicateKeysTakeManyEntriesEvenFromOnePid() {
      h.run(register("d", "k", v("1"), A));
      h.run(register("d", "k", v("2"), A));
      h.run(register("d", "k", v("3"), B));
      assertThat(h.mirror.lookup("d", "k")).extracting(Registration::pid).containsExactly(A, A, B);
      assertThat(h.mirror.whereis("d", "k")).isEqualTo(A);
      assertThat(h.mirror.registrationsOf(A)).hasSize(2);
    }

    @Test
    void rejectsUnknownRegistryBadKeyOversizeValueAndBadPid() {
      assertRejected(register("nope", "k", v("1"), A), Status.NO_SUCH_REGISTRY);
      assertRejected(register("u", "", v("1"), A), Status.INVALID_ARGUMENT);
      assertRejected(register("u", "k".repeat(Limits.KEY_BYTES_DEFAULT + 1), v("1"), A), Status.LIMIT_EXCEEDED);
      assertRejected(register("u", "k", new byte[Limits.VALUE_BYTES_DEFAULT + 1], A), Status.LIMIT_EXCEEDED);
      Command noPid = Command.newBuilder().setRegister(Register.newBuilder().setRegistry("u").setKey("k")).build();
      assertRejected(noPid, Status.INVALID_ARGUMENT);
      Command badPid = Command.newBuilder().setRegister(Register.newBuilder().setRegistry("u").setKey("k")
          .setPid(PidProto.newBuilder().setNodeId("n1").setIncarnation(0).setSerial(1))).build();
      assertRejected(badPid, Status.INVALID_ARGUMENT);
    }

    @Test
    void aPidWithoutAnOpenSessionCannotRegister() {
      assertRejected(register("u", "k", v("1"), Pid.of("never-opened", 1, 1)), Status.SESSION_EXPIRED);
      assertRejected(register("u", "k", v("1"), Pid.of("n1", 2, 1)), Status.SESSION_EXPIRED); // wrong incarnation
      h.run(expireSession("n2", 7));
      assertRejected(register("u", "k", v("1"), C), Status.SESSION_EXPIRED);
      // the result names the session that is not open, as a field (not only in its text)
      Result r = h.run(register("u", "k", v("1"), Pid.of("n1", 2, 1)));
      assertThat(r.getEndedSession().getNodeId()).isEqualTo("n1");
      assertThat(r.getEndedSession().getIncarnation()).isEqualTo(2);
    }

    @Test
    void registrationsPerPidAreLimited() {
      h.run(createRegistry(CreateRegistry.newBuilder().setRegistry("small").setMode(DUPLICATE)
          .setMaxRegistrationsPerPid(2).build()));
      assertThat(h.run(register("small", "k", v(""), A)).getStatus()).isEqualTo(Status.OK);
      assertThat(h.run(register("small", "k", v(""), A)).getStatus()).isEqualTo(Status.OK);
      assertRejected(register("small", "k", v(""), A), Status.LIMIT_EXCEEDED);
      assertThat(h.run(register("small", "k", v(""), B)).getStatus()).isEqualTo(Status.OK);
    }
  }

  @Nested
  class UnregisterCommand {
    @Test
    void removesOnlyTheCallersEntries() {
      h.run(register("u", "k", v("1"), A));
      Result r = h.run(unregister("u", "k", B));
      assertThat(r.getStatus()).isEqualTo(Status.OK);
      assertThat(r.getRemoved()).isZero();
      assertThat(h.mirror.whereis("u", "k")).isEqualTo(A);
      assertThat(h.run(unregister("u", "k", A)).getRemoved()).isEqualTo(1);
      assertThat(h.mirror.whereis("u", "k")).isNull();
      assertThat(h.mirror.registrationsOf(A)).isEmpty();
    }

    @Test
    void removesEveryDuplicateEntryOfThePidUnderTheKey() {
      h.run(register("d", "k", v("1"), A));
      h.run(register("d", "k", v("2"), B));
      h.run(register("d", "k", v("3"), A));
      assertThat(h.run(unregister("d", "k", A)).getRemoved()).isEqualTo(2);
      assertThat(h.mirror.lookup("d", "k")).extracting(Registration::pid).containsExactly(B);
    }

    @Test
    void listedEntriesAreTheOnlyOnesRemoved() {
      h.run(register("d", "k", v("a"), A));
      h.run(register("d", "k", v("b"), A));
      h.run(register("d", "k", v("c"), B));
      List<Registration> entries = h.mirror.lookup("d", "k");
      Registration a = entries.get(0);
      // B's entry is listed too, but only the pid's own entries can go
      Result r = h.run(Commands.unregisterEntries("d", "k", A, List.of(a, entries.get(2))));
      assertThat(r.getRemoved()).isEqualTo(1);
      assertThat(h.mirror.lookup("d", "k")).extracting(e -> new String(e.valueUnsafe(), UTF_8)).containsExactly("b", "c");
      assertThat(h.run(Commands.unregisterEntries("d", "k", A, List.of(a))).getRemoved()).isZero();
    }

    @Test
    void isAllowedAfterTheSessionExpiredAndRejectsBadInput() {
      assertRejected(unregister("nope", "k", A), Status.NO_SUCH_REGISTRY);
      assertRejected(unregister("u", "", A), Status.INVALID_ARGUMENT);
      assertThat(h.run(unregister("u", "k", Pid.of("gone", 3, 3))).getStatus()).isEqualTo(Status.OK);
    }
  }

  @Nested
  class UnregisterPidCommand {
    @Test
    void processDeathRemovesAllItsKeysAndLocksInOneCommand() {
      h.run(register("u", "k1", v("1"), A));
      h.run(register("u", "k2", v("1"), B));
      h.run(register("d", "k", v("1"), A));
      h.run(register("d", "k", v("1"), B));
      h.run(acquireLock("u", "L", A));
      var changes = h.changesOf(unregisterPid(A));
      assertThat(changes).hasSize(3);
      assertThat(h.mirror.whereis("u", "k1")).isNull();
      assertThat(h.mirror.whereis("u", "k2")).isEqualTo(B);
      assertThat(h.mirror.lookup("d", "k")).extracting(Registration::pid).containsExactly(B);
      assertThat(h.mirror.lock("u", "L")).isNull();
      assertThat(h.mirror.holdingsOf(A)).isZero();
    }

    @Test
    void anUnknownPidRemovesNothingAndABadPidIsRejected() {
      assertThat(h.run(unregisterPid(Pid.of("x", 1, 1))).getRemoved()).isZero();
      Command bad = Command.newBuilder().setUnregisterPid(io.roster.proto.UnregisterPid.newBuilder()
          .setPid(PidProto.newBuilder().setNodeId("").setIncarnation(1).setSerial(1))).build();
      assertRejected(bad, Status.INVALID_ARGUMENT);
    }
  }

  @Nested
  class UpdateValueCommand {
    @Test
    void theOwnerUpdatesAtomicallyAndGetsOldAndNew() {
      h.run(register("u", "k", v("old"), A));
      Result r = h.run(updateValue("u", "k", v("new"), A));
      assertThat(r.getStatus()).isEqualTo(Status.OK);
      assertThat(r.getOldValue().toStringUtf8()).isEqualTo("old");
      assertThat(r.getNewValue().toStringUtf8()).isEqualTo("new");
      assertThat(h.mirror.unique("u", "k").valueUnsafe()).isEqualTo(v("new"));
      assertThat(h.mirror.registrationsOf(A)).singleElement()
          .satisfies(reg -> assertThat(reg.valueUnsafe()).isEqualTo(v("new")));
    }

    @Test
    void anExpectedRegistrationMakesItACompareAndSet() {
      h.run(register("u", "k", v("v1"), A));
      Registration first = h.mirror.unique("u", "k");
      Result r = h.run(Commands.updateValue("u", "k", v("v2"), A, first));
      assertThat(r.getStatus()).isEqualTo(Status.OK);
      Registration second = h.mirror.unique("u", "k");
      assertRejected(Commands.updateValue("u", "k", v("v3"), A, first), Status.VALUE_CHANGED);
      assertThat(h.mirror.unique("u", "k").valueUnsafe()).isEqualTo(v("v2"));
      assertThat(h.run(Commands.updateValue("u", "k", v("v3"), A, second)).getStatus()).isEqualTo(Status.OK);
    }

    @Test
    void othersMissingKeysAndDuplicateRegistriesAreRefused() {
      h.run(register("u", "k", v("old"), A));
      Result r = h.run(updateValue("u", "k", v("x"), B));
      assertThat(r.getStatus()).isEqualTo(Status.NOT_OWNER);
      assertThat(Codec.fromProto(r.getOwner())).isEqualTo(A);
      assertRejected(updateValue("u", "missing", v("x"), A), Status.NOT_REGISTERED);
      assertRejected(updateValue("d", "k", v("x"), A), Status.WRONG_MODE);
      assertRejected(updateValue("nope", "k", v("x"), A), Status.NO_SUCH_REGISTRY);
      assertRejected(updateValue("u", "k", new byte[Limits.VALUE_BYTES_DEFAULT + 1], A), Status.LIMIT_EXCEEDED);
      assertThat(h.mirror.unique("u", "k").valueUnsafe()).isEqualTo(v("old"));
    }

    @Test
    void aStaleIncarnationCannotUpdate() {
      h.run(register("u", "k", v("old"), C));
      h.run(expireSession("n2", 7));
      assertRejected(updateValue("u", "k", v("x"), C), Status.SESSION_EXPIRED);
    }
  }

  @Nested
  class MetaCommands {
    @Test
    void putReplacesAndReportsThePreviousValueAndDeleteRemoves() {
      Result first = h.run(putMeta("u", "custom", v("1")));
      assertThat(first.getStatus()).isEqualTo(Status.OK);
      assertThat(first.getHadOldValue()).isFalse();
      Result second = h.run(putMeta("u", "custom", v("2")));
      assertThat(second.getOldValue().toStringUtf8()).isEqualTo("1");
      assertThat(h.mirror.meta("u", "custom")).isEqualTo(v("2"));
      Result deleted = h.run(deleteMeta("u", "custom"));
      assertThat(deleted.getRemoved()).isEqualTo(1);
      assertThat(h.mirror.meta("u", "custom")).isNull();
      assertThat(h.run(deleteMeta("u", "custom")).getRemoved()).isZero();
    }

    @Test
    void rejectsUnknownRegistryBadKeyAndOversizeValue() {
      assertRejected(putMeta("nope", "k", v("1")), Status.NO_SUCH_REGISTRY);
      assertRejected(putMeta("u", "", v("1")), Status.INVALID_ARGUMENT);
      assertRejected(putMeta("u", "k", new byte[Limits.VALUE_BYTES_DEFAULT + 1]), Status.LIMIT_EXCEEDED);
      assertRejected(deleteMeta("nope", "k"), Status.NO_SUCH_REGISTRY);
    }
  }

  @Nested
  class SessionCommands {
    @Test
    void openingAgainIsIdempotent() {
      TreeSet<String> before = h.mirror.describe();
      assertThat(h.run(openSession("n1", 1)).getStatus()).isEqualTo(Status.OK);
      assertThat(h.mirror.describe()).isEqualTo(before);
    }

    @Test
    void aNewIncarnationRemovesTheOldOnesEntriesAtOnce() {
      h.run(register("u", "k1", v("1"), A));
      h.run(register("d", "k", v("1"), B));
      h.run(register("u", "k2", v("1"), C));
      h.run(acquireLock("u", "L", A));
      Result r = h.run(openSession("n1", 2));
      assertThat(r.getStatus()).isEqualTo(Status.OK);
      assertThat(r.getRemoved()).isEqualTo(2);
      assertThat(h.mirror.whereis("u", "k1")).isNull();
      assertThat(h.mirror.lookup("d", "k")).isEmpty();
      assertThat(h.mirror.lock("u", "L")).isNull();
      assertThat(h.mirror.whereis("u", "k2")).isEqualTo(C); // other nodes untouched
      assertThat(h.mirror.session("n1").incarnation()).isEqualTo(2);
    }

    @Test
    void expiryRemovesEverythingOfThatIncarnationAndRejectsItsWrites() {
      h.run(register("u", "k1", v("1"), C));
      h.run(register("u", "k2", v("1"), A));
      Result r = h.run(expireSession("n2", 7));
      assertThat(r.getRemoved()).isEqualTo(1);
      assertThat(h.mirror.whereis("u", "k1")).isNull();
      assertThat(h.mirror.whereis("u", "k2")).isEqualTo(A);
      assertThat(h.mirror.session("n2").expired()).isTrue();
      // the expired incarnation cannot come back; a new incarnation can
      assertRejected(openSession("n2", 7), Status.SESSION_EXPIRED);
      assertThat(h.run(openSession("n2", 8)).getStatus()).isEqualTo(Status.OK);
    }

    @Test
    void anExpiryDecidedInAnotherTermIsVoid() {
      h.run(register("u", "k1", v("1"), C));
      TreeSet<String> before = h.mirror.describe();
      // decided by the leader of term 3, committed by the leader of term 4 (the first was deposed)
      var stale = h.core.apply(h.mirror, Commands.expireSession("n2", 7, 3), 4, ++h.revision, 0);
      assertThat(stale.result().getStatus()).isEqualTo(Status.STALE_TERM);
      assertThat(stale.changes()).isEmpty();
      assertThat(h.mirror.describe()).isEqualTo(before);
      var valid = h.core.apply(h.mirror, Commands.expireSession("n2", 7, 4), 4, ++h.revision, 0);
      assertThat(valid.result().getStatus()).isEqualTo(Status.OK);
      assertThat(valid.result().getRemoved()).isEqualTo(1);
    }

    @Test
    void expiringAnotherIncarnationChangesNothing() {
      h.run(register("u", "k1", v("1"), C));
      TreeSet<String> before = h.mirror.describe();
      Result r = h.run(expireSession("n2", 6));
      assertThat(r.getStatus()).isEqualTo(Status.OK);
      assertThat(r.getRemoved()).isZero();
      assertThat(h.mirror.describe()).isEqualTo(before);
    }

    @Test
    void anOlderIncarnationIsRefusedAndBadIdsAreInvalid() {
      h.run(openSession("n1", 5));
      assertRejected(openSession("n1", 4), Status.SESSION_EXPIRED);
      assertRejected(openSession("", 1), Status.INVALID_ARGUMENT);
      assertRejected(openSession("n9", 0), Status.INVALID_ARGUMENT);
      assertRejected(expireSession("n".repeat(Pid.NODE_ID_BYTES_MAX + 1), 1), Status.INVALID_ARGUMENT);
    }
  }

  @Nested
  class LockCommands {
    @Test
    void acquisitionsInOneEntryGetIncreasingTokens() {
      // acquire, release, acquire again, all in the entry at index 7: revisions and tokens still grow
      RegistryCore core = new RegistryCore();
      Result first = apply(core, acquireLock("u", "L", A), 0);
      apply(core, releaseLock("u", "L", A), 1);
      Result second = apply(core, acquireLock("u", "L", B), 2);
      assertThat(first.getStatus()).isEqualTo(Status.OK);
      assertThat(second.getStatus()).isEqualTo(Status.OK);
      assertThat(second.getRevision()).isGreaterThan(first.getRevision());
      assertThat(Revisions.index(second.getRevision())).isEqualTo(Revisions.index(first.getRevision())).isEqualTo(7);
      assertThat(second.getToken()).isGreaterThan(first.getToken()).isEqualTo(second.getRevision());
    }

    private Result apply(RegistryCore core, Command c, int ordinal) {
      RegistryCore.Outcome outcome = core.apply(h.mirror, c, 7, ordinal);
      outcome.changes().forEach(h.mirror::apply);
      return outcome.result();
    }

    @Test
    void acquireReturnsARevisionTokenAndAHolderBlocksOthers() {
      Result a = h.run(acquireLock("u", "L", A));
      assertThat(a.getStatus()).isEqualTo(Status.OK);
      assertThat(a.getToken()).isEqualTo(a.getRevision()); // the acquisition's own revision
      assertThat(h.mirror.lock("u", "L").token()).isEqualTo(a.getToken());
      Result b = h.run(acquireLock("u", "L", B));
      assertThat(b.getStatus()).isEqualTo(Status.LOCK_HELD);
      assertThat(Codec.fromProto(b.getOwner())).isEqualTo(A);
      assertThat(h.run(acquireLock("u", "L", A)).getStatus()).isEqualTo(Status.LOCK_HELD); // no re-entry
      assertThat(h.run(releaseLock("u", "L", A)).getStatus()).isEqualTo(Status.OK);
      Result again = h.run(acquireLock("u", "L", B));
      assertThat(again.getToken()).isGreaterThan(a.getToken());
    }

    @Test
    void locksAreNamespacedPerRegistryAndApartFromKeys() {
      h.run(register("u", "L", v("1"), A));
      assertThat(h.run(acquireLock("u", "L", B)).getStatus()).isEqualTo(Status.OK);
      assertThat(h.run(acquireLock("d", "L", A)).getStatus()).isEqualTo(Status.OK);
    }

    @Test
    void onlyTheHolderReleases() {
      h.run(acquireLock("u", "L", A));
      Result r = h.run(releaseLock("u", "L", B));
      assertThat(r.getStatus()).isEqualTo(Status.NOT_OWNER);
      assertThat(Codec.fromProto(r.getOwner())).isEqualTo(A);
      assertRejected(releaseLock("u", "free", A), Status.NOT_OWNER);
      assertRejected(releaseLock("nope", "L", A), Status.NO_SUCH_REGISTRY);
    }

    @Test
    void aStaleSessionCannotAcquire() {
      h.run(expireSession("n2", 7));
      assertRejected(acquireLock("u", "L", C), Status.SESSION_EXPIRED);
      assertRejected(acquireLock("u", "", A), Status.INVALID_ARGUMENT);
      assertRejected(acquireLock("nope", "L", A), Status.NO_SUCH_REGISTRY);
    }
  }

  @Test
  void anUnknownCommandKindIsAnErrorResultAndChangesNothing() {
    Command fromTheFuture = Command.newBuilder()
        .setUnknownFields(UnknownFieldSet.newBuilder()
            .addField(99, UnknownFieldSet.Field.newBuilder().addLengthDelimited(ByteString.copyFromUtf8("x")).build())
            .build())
        .build();
    assertRejected(fromTheFuture, Status.UNKNOWN_COMMAND);
    assertRejected(Command.getDefaultInstance(), Status.UNKNOWN_COMMAND);
  }

  @Test
  void changesCarryTheRevisionAndOrdinalOfTheirCommand() {
    var changes = h.changesOf(register("d", "k", v("1"), A));
    assertThat(changes).singleElement().isInstanceOfSatisfying(Registered.class, c -> {
      assertThat(c.registration().index()).isEqualTo(h.revision);
      assertThat(c.registration().ordinal()).isZero();
      assertThat(c.registration().revision()).isEqualTo(Revisions.of(h.revision, 0));
    });
    assertThat(h.changesOf(unregister("d", "k", A))).singleElement().isInstanceOf(Unregistered.class);
  }
}
