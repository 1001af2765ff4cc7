package io.roster.schema;

import com.google.protobuf.ByteString;
import io.roster.Pid;
import io.roster.proto.LockRecord;
import io.roster.proto.RegistrationRecord;
import io.roster.proto.RegistryRecord;
import io.roster.proto.SessionRecord;
import io.roster.proto.Voter;
import java.util.function.UnaryOperator;

/** Conversions between the state's objects and their protobuf records, shared by the store and the change stream. */
public final class Records {
  private Records() {}

  public static RegistryRecord of(RegistryDescriptor d) {
    RegistryRecord.Builder b = RegistryRecord.newBuilder()
        .setMode(d.mode())
        .setPartitions(d.partitions())
        .setMaxKeyBytes(d.maxKeyBytes())
        .setMaxValueBytes(d.maxValueBytes())
        .setMaxRegistrationsPerPid(d.maxRegistrationsPerPid())
        .setRevision(d.revision());
    d.voters().forEach((id, address) -> b.addVoters(Voter.newBuilder().setId(id).setAddress(address)));
    return b.build();
  }

  public static RegistryDescriptor descriptor(String name, RegistryRecord r) {
    return new RegistryDescriptor(name, r.getMode(), r.getPartitions(), r.getMaxKeyBytes(), r.getMaxValueBytes(),
        r.getMaxRegistrationsPerPid(), r.getRevision(), voters(r.getVotersList()));
  }

  /** Voters as a sorted map (id → address). */
  public static java.util.SortedMap<String, String> voters(java.util.List<Voter> voters) {
    java.util.SortedMap<String, String> out = new java.util.TreeMap<>();
    voters.forEach(v -> out.put(v.getId(), v.getAddress()));
    return out;
  }

  public static RegistrationRecord of(Registration r) {
    RegistrationRecord.Builder b = RegistrationRecord.newBuilder()
        .setPid(Codec.toProto(r.pid()))
        .setRevision(r.index())
        .setOrdinal(r.ordinal());
    if (r.hasValue()) {
      b.setValue(ByteString.copyFrom(r.valueUnsafe()));
    }
    return b.build();
  }

  /** {@code pids} returns one shared instance per pid (to keep the mirror small). */
  public static Registration registration(RegistryDescriptor d, String key, RegistrationRecord r, UnaryOperator<Pid> pids) {
    return new Registration(d, key, pids.apply(Codec.fromProto(r.getPid())),
        r.hasValue() ? r.getValue().toByteArray() : null,
        r.getRevision(), r.getOrdinal());
  }

  public static SessionRecord of(Session s) {
    return SessionRecord.newBuilder().setIncarnation(s.incarnation()).setExpired(s.expired())
        .setRevision(s.revision()).setTimeoutMillis((int) s.timeoutMillis()).setAddress(s.address()).build();
  }

  public static Session session(String nodeId, SessionRecord s) {
    return new Session(nodeId, s.getIncarnation(), s.getTimeoutMillis(), s.getExpired(), s.getRevision(),
        s.getAddress());
  }

  public static LockRecord of(LockHold l) {
    return LockRecord.newBuilder().setPid(Codec.toProto(l.pid())).setToken(l.token()).build();
  }

  public static LockHold lock(String registry, String lockKey, LockRecord l, UnaryOperator<Pid> pids) {
    return new LockHold(registry, lockKey, pids.apply(Codec.fromProto(l.getPid())), l.getToken());
  }
}
