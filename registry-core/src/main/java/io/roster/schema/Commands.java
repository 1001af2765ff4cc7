package io.roster.schema;

import com.google.protobuf.ByteString;
import io.roster.Pid;
import io.roster.proto.AcquireLock;
import io.roster.proto.Command;
import io.roster.proto.CreateRegistry;
import io.roster.proto.DeleteMeta;
import io.roster.proto.EntryRef;
import io.roster.proto.ExpireSession;
import io.roster.proto.KeyMode;
import io.roster.proto.OpenSession;
import io.roster.proto.PutMeta;
import io.roster.proto.Register;
import io.roster.proto.ReleaseLock;
import io.roster.proto.Unregister;
import io.roster.proto.UnregisterPid;
import io.roster.proto.UpdateValue;
import java.util.List;

/** Builds the commands of the schema. No validation here: the core validates what it applies. */
public final class Commands {
  private Commands() {}

  public static Command createRegistry(String registry, KeyMode mode) {
    return createRegistry(CreateRegistry.newBuilder().setRegistry(registry).setMode(mode).build());
  }

  public static Command createRegistry(CreateRegistry c) {
    return Command.newBuilder().setCreateRegistry(c).build();
  }

  /** A registration; a null {@code value} is no value (it reads back as none). */
  public static Command register(String registry, String key, byte[] value, Pid pid) {
    Register.Builder b = Register.newBuilder().setRegistry(registry).setKey(key).setPid(Codec.toProto(pid));
    if (value != null) {
      b.setValue(ByteString.copyFrom(value));
    }
    return Command.newBuilder().setRegister(b).build();
  }

  public static Command unregister(String registry, String key, Pid pid) {
    return Command.newBuilder().setUnregister(Unregister.newBuilder().setRegistry(registry).setKey(key)
        .setPid(Codec.toProto(pid))).build();
  }

  /** Removes only the listed entries that pid holds under key (unregister_match). */
  public static Command unregisterEntries(String registry, String key, Pid pid, List<Registration> entries) {
    Unregister.Builder b = Unregister.newBuilder().setRegistry(registry).setKey(key).setPid(Codec.toProto(pid));
    for (Registration r : entries) {
      b.addEntries(ref(r));
    }
    return Command.newBuilder().setUnregister(b).build();
  }

  /** Replaces the value only if the registration is still {@code expected} (a compare-and-set). */
  public static Command updateValue(String registry, String key, byte[] value, Pid pid, Registration expected) {
    return Command.newBuilder().setUpdateValue(updateValueOf(registry, key, value, pid).setExpected(ref(expected)))
        .build();
  }

  /** A null {@code value} is no value. */
  private static UpdateValue.Builder updateValueOf(String registry, String key, byte[] value, Pid pid) {
    UpdateValue.Builder b = UpdateValue.newBuilder().setRegistry(registry).setKey(key).setPid(Codec.toProto(pid));
    if (value != null) {
      b.setValue(ByteString.copyFrom(value));
    }
    return b;
  }

  private static EntryRef ref(Registration r) {
    return EntryRef.newBuilder().setRevision(r.index()).setOrdinal(r.ordinal()).build();
  }

  public static Command unregisterPid(Pid pid) {
    return Command.newBuilder().setUnregisterPid(UnregisterPid.newBuilder().setPid(Codec.toProto(pid))).build();
  }

  public static Command updateValue(String registry, String key, byte[] value, Pid pid) {
    return Command.newBuilder().setUpdateValue(updateValueOf(registry, key, value, pid)).build();
  }

  public static Command putMeta(String registry, String key, byte[] value) {
    return Command.newBuilder().setPutMeta(PutMeta.newBuilder().setRegistry(registry).setKey(key)
        .setValue(ByteString.copyFrom(value))).build();
  }

  public static Command deleteMeta(String registry, String key) {
    return Command.newBuilder().setDeleteMeta(DeleteMeta.newBuilder().setRegistry(registry).setKey(key)).build();
  }

  public static Command openSession(String nodeId, long incarnation) {
    return openSession(nodeId, incarnation, 0);
  }

  public static Command openSession(String nodeId, long incarnation, long timeoutMillis) {
    return openSession(nodeId, incarnation, timeoutMillis, "");
  }

  /** Opens a session whose processes receive messages at {@code address} (host:port; empty: nowhere). */
  public static Command openSession(String nodeId, long incarnation, long timeoutMillis, String address) {
    return Command.newBuilder().setOpenSession(OpenSession.newBuilder().setNodeId(nodeId)
        .setIncarnation(incarnation).setTimeoutMillis((int) timeoutMillis).setAddress(address)).build();
  }

  /** A node ending its own session (valid in any term). */
  public static Command expireSession(String nodeId, long incarnation) {
    return expireSession(nodeId, incarnation, 0);
  }

  /** A leader's expiry decision, valid only if committed in {@code leaderTerm}. */
  public static Command expireSession(String nodeId, long incarnation, long leaderTerm) {
    return Command.newBuilder().setExpireSession(ExpireSession.newBuilder().setNodeId(nodeId)
        .setIncarnation(incarnation).setLeaderTerm(leaderTerm)).build();
  }

  /** Asks every peer for the digest of its state at this command's entry. */
  public static Command digestCheck() {
    return Command.newBuilder().setDigestCheck(io.roster.proto.DigestCheck.getDefaultInstance()).build();
  }

  public static Command acquireLock(String registry, String lockKey, Pid pid) {
    return Command.newBuilder().setAcquireLock(AcquireLock.newBuilder().setRegistry(registry).setLockKey(lockKey)
        .setPid(Codec.toProto(pid))).build();
  }

  public static Command releaseLock(String registry, String lockKey, Pid pid) {
    return Command.newBuilder().setReleaseLock(ReleaseLock.newBuilder().setRegistry(registry).setLockKey(lockKey)
        .setPid(Codec.toProto(pid))).build();
  }
}
