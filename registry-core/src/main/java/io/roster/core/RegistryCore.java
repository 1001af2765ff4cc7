package io.roster.core;

// This file is large because it is a single idea: the decision of every command kind, side by side,
// so that one reader sees every rule the replicated state obeys.

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
import io.roster.proto.PidProto;
import io.roster.proto.PutMeta;
import io.roster.proto.Register;
import io.roster.proto.ReleaseLock;
import io.roster.proto.Result;
import io.roster.proto.Status;
import io.roster.proto.Unregister;
import io.roster.proto.UnregisterPid;
import io.roster.proto.UpdateValue;
import io.roster.schema.Change.LockAcquired;
import io.roster.schema.Change.LockReleased;
import io.roster.schema.Change.MetaDeleted;
import io.roster.schema.Change.MetaPut;
import io.roster.schema.Change.Registered;
import io.roster.schema.Change.RegistryCreated;
import io.roster.schema.Change.SessionChanged;
import io.roster.schema.Change.Unregistered;
import io.roster.schema.Change.ValueUpdated;
import io.roster.schema.Change;
import io.roster.schema.Codec;
import io.roster.schema.Limits;
import io.roster.schema.LockHold;
import io.roster.schema.Records;
import io.roster.schema.Registration;
import io.roster.schema.RegistryDescriptor;
import io.roster.schema.Revisions;
import io.roster.schema.Session;
import java.util.ArrayList;
import java.util.List;

/**
 * Decides every registry command: where {@code register} is decided, and everything else.
 *
 * <p>Pure and deterministic: {@link #apply} reads the state through a {@link StateView}, never
 * changes it, and returns the result plus the list of {@link Change}s that the caller applies to
 * the mirror and the store. No clock, thread, I/O or randomness: every peer that applies the same
 * commands to the same state decides the same outcome. Errors are results, never exceptions.
 */
public final class RegistryCore {
  /** Voters a partitioned registry's creation may name (the cluster group's configuration). */
  static final int VOTERS_MAX = 64;

  /** A command's result and the changes that realise it (empty unless the status is OK). */
  public record Outcome(Result result, List<Change> changes) {}

  /** Decides one command of an entry of term 0 (tests and tools with no Raft term). */
  public Outcome apply(StateView state, Command command, long index, int ordinal) {
    return apply(state, command, 0, index, ordinal);
  }

  /**
   * Decides one command.
   *
   * @param term the Raft term of the entry carrying the command
   * @param index the Raft index of the entry carrying the command
   * @param ordinal the command's position inside that entry; with {@code index}, the command's
   *     revision ({@link Revisions#of})
   */
  public Outcome apply(StateView state, Command command, long term, long index, int ordinal) {
    Decision d = new Decision(state, term, index, ordinal);
    switch (command.getKindCase()) {
      case CREATE_REGISTRY -> d.createRegistry(command.getCreateRegistry());
      case REGISTER -> d.register(command.getRegister());
      case UNREGISTER -> d.unregister(command.getUnregister());
      case UNREGISTER_PID -> d.unregisterPid(command.getUnregisterPid());
      case UPDATE_VALUE -> d.updateValue(command.getUpdateValue());
      case PUT_META -> d.putMeta(command.getPutMeta());
      case DELETE_META -> d.deleteMeta(command.getDeleteMeta());
      case OPEN_SESSION -> d.openSession(command.getOpenSession());
      case EXPIRE_SESSION -> d.expireSession(command.getExpireSession());
      case ACQUIRE_LOCK -> d.acquireLock(command.getAcquireLock());
      case RELEASE_LOCK -> d.releaseLock(command.getReleaseLock());
      case DIGEST_CHECK -> { } // no change: each peer digests its state at this entry (Replica)
      default -> d.fail(Status.UNKNOWN_COMMAND, "unknown command kind (field " + unknownField(command) + ")");
    }
    return d.outcome();
  }

  private static String unknownField(Command command) {
    return command.getUnknownFields().asMap().keySet().toString();
  }

  /** The decision of one command: reads from the view, collects the result and changes. */
  private static final class Decision {
    private final StateView state;
    private final long term;
    /** The Raft index of the entry: what stored records carry. */
    private final long index;
    private final int ordinal;
    /** The command's own revision: the result's, and a lock's fencing token. */
    private final long revision;
    private final Result.Builder result = Result.newBuilder();
    private final List<Change> changes = new ArrayList<>(2);
    private boolean decided;

    Decision(StateView state, long term, long index, int ordinal) {
      this.state = state;
      this.term = term;
      this.index = index;
      this.ordinal = ordinal;
      this.revision = Revisions.of(index, ordinal);
      result.setRevision(revision);
    }

    Outcome outcome() {
      if (!decided) {
        result.setStatus(Status.OK);
      }
      return new Outcome(result.build(), changes);
    }

    /** Records a failure; the first one wins and no change is kept. */
    void fail(Status status, String detail) {
      if (!decided) {
        decided = true;
        changes.clear();
        result.setStatus(status).setDetail(detail);
      }
    }

    /** SESSION_EXPIRED for the session of {@code nodeId}'s {@code incarnation}, named in the result. */
    void sessionEnded(String nodeId, long incarnation, String detail) {
      if (!decided) {
        fail(Status.SESSION_EXPIRED, detail);
        result.setEndedSession(io.roster.proto.SessionRef.newBuilder().setNodeId(nodeId)
            .setIncarnation(incarnation));
      }
    }

    void failWithOwner(Status status, String detail, Pid owner) {
      if (!decided) {
        fail(status, detail);
        result.setOwner(Codec.toProto(owner));
      }
    }

    // ---- validation helpers: each returns null (and records the failure) when invalid ----

    RegistryDescriptor existingRegistry(String name) {
      if (!validName(name, "registry", Limits.REGISTRY_NAME_BYTES_MAX)) {
        return null;
      }
      RegistryDescriptor registry = state.registry(name);
      if (registry == null) {
        fail(Status.NO_SUCH_REGISTRY, "no registry named '" + name + "'");
      }
      return registry;
    }

    /**
     * A registry whose entries and locks live in this group: a registry of several partitions keeps
     * only its descriptor and metadata in the cluster's group, its entries in its partition groups.
     */
    RegistryDescriptor entriesHere(String name) {
      RegistryDescriptor registry = existingRegistry(name);
      if (registry != null && registry.partitions() > 1) {
        fail(Status.INVALID_ARGUMENT, "registry '" + name + "' spans " + registry.partitions()
            + " partitions: its entries and locks live in its partition groups, not in this one");
        return null;
      }
      return registry;
    }

    boolean validName(String name, String what, int maxBytes) {
      int bytes = Limits.utf8Length(name);
      if (bytes == 0) {
        fail(Status.INVALID_ARGUMENT, what + " must not be empty");
        return false;
      }
      if (bytes > maxBytes) {
        fail(Status.LIMIT_EXCEEDED, what + " is " + bytes + " bytes; the limit is " + maxBytes);
        return false;
      }
      return true;
    }

    boolean validValue(RegistryDescriptor registry, int bytes) {
      if (bytes > registry.maxValueBytes()) {
        fail(Status.LIMIT_EXCEEDED, "the value is " + bytes + " bytes; registry '" + registry.name()
            + "' takes values of at most " + registry.maxValueBytes() + " bytes");
        return false;
      }
      return true;
    }

    Pid validPid(boolean present, PidProto proto) {
      if (!present) {
        fail(Status.INVALID_ARGUMENT, "pid is missing");
        return null;
      }
      String problem = Pid.problem(proto.getNodeId(), proto.getIncarnation(), proto.getSerial());
      if (problem != null) {
        fail(Status.INVALID_ARGUMENT, "invalid pid: " + problem);
        return null;
      }
      return state.canonical(Codec.fromProto(proto));
    }

    /** The pid's node incarnation must have an open session for the pid to take anything. */
    boolean liveSession(Pid pid) {
      Session session = state.session(pid.nodeId());
      if (session == null || session.expired() || session.incarnation() != pid.incarnation()) {
        sessionEnded(pid.nodeId(), pid.incarnation(), "node " + pid.nodeId() + " incarnation " + pid.incarnation()
            + " has no open session" + (session == null ? "" : " (current: incarnation "
            + session.incarnation() + (session.expired() ? ", expired)" : ")")));
        return false;
      }
      return true;
    }

    /** The per-pid bound (registrations and locks), and for a registration the per-node and per-group quotas. */
    boolean roomFor(Pid pid, RegistryDescriptor registry, boolean registration) {
      int held = state.holdingsOf(pid);
      if (held >= registry.maxRegistrationsPerPid()) {
        fail(Status.LIMIT_EXCEEDED, pid + " holds " + held + " registrations and locks; the limit is "
            + registry.maxRegistrationsPerPid());
        return false;
      }
      return !registration || roomForRegistration(pid);
    }

    /** The per-node and per-group quotas of registrations (locks are bounded per pid only). */
    boolean roomForRegistration(Pid pid) {
      int ofNode = state.registrationsOfNode(pid.nodeId());
      if (ofNode >= Limits.REGISTRATIONS_PER_NODE_MAX) {
        fail(Status.LIMIT_EXCEEDED, "node " + pid.nodeId() + "'s processes hold " + ofNode + " registrations here; "
            + "the limit per node is " + Limits.REGISTRATIONS_PER_NODE_MAX);
        return false;
      }
      long all = state.registrationCount();
      if (all >= Limits.REGISTRATIONS_MAX) {
        fail(Status.LIMIT_EXCEEDED, "this group holds " + all + " registrations; the limit is "
            + Limits.REGISTRATIONS_MAX + " (a partitioned registry spreads them over groups)");
        return false;
      }
      return true;
    }

    // ---- commands ----

    void createRegistry(CreateRegistry c) {
      if (!validName(c.getRegistry(), "registry", Limits.REGISTRY_NAME_BYTES_MAX)) {
        return;
      }
      if (c.getMode() != KeyMode.UNIQUE && c.getMode() != KeyMode.DUPLICATE
          && c.getMode() != KeyMode.DUPLICATE_BY_KEY) {
        fail(Status.INVALID_ARGUMENT, "mode must be UNIQUE, DUPLICATE or DUPLICATE_BY_KEY, was " + c.getModeValue());
        return;
      }
      Integer partitions = setting(c.getPartitions(), 1, Limits.PARTITIONS_MAX, "partitions");
      Integer keyBytes = setting(c.getMaxKeyBytes(), Limits.KEY_BYTES_DEFAULT, Limits.KEY_BYTES_CAP, "max_key_bytes");
      Integer valueBytes =
          setting(c.getMaxValueBytes(), Limits.VALUE_BYTES_DEFAULT, Limits.VALUE_BYTES_CAP, "max_value_bytes");
      Integer perPid = setting(c.getMaxRegistrationsPerPid(), Limits.REGISTRATIONS_PER_PID_DEFAULT,
          Limits.REGISTRATIONS_PER_PID_CAP, "max_registrations_per_pid");
      if (decided) {
        return;
      }
      if (!validVoters(c, partitions)) {
        return;
      }
      RegistryDescriptor wanted = new RegistryDescriptor(
          c.getRegistry(), c.getMode(), partitions, keyBytes, valueBytes, perPid, index, Records.voters(c.getVotersList()));
      if (!validInitialMeta(c, wanted)) {
        return;
      }
      RegistryDescriptor existing = state.registry(c.getRegistry());
      if (existing != null) {
        if (!existing.sameSettings(wanted)) {
          fail(Status.REGISTRY_MISMATCH, "registry '" + c.getRegistry() + "' exists with other settings: "
              + existing);
        }
        return; // opened, not created: its metadata is what it is
      }
      if (partitions > 1 && state.partitionGroupCount() + partitions > Limits.PARTITION_GROUPS_MAX) {
        fail(Status.LIMIT_EXCEEDED, "the cluster's partitioned registries have " + state.partitionGroupCount()
            + " partition groups; " + partitions + " more would pass the limit of " + Limits.PARTITION_GROUPS_MAX);
        return;
      }
      if (state.registryCount() >= Limits.REGISTRIES_MAX) {
        fail(Status.LIMIT_EXCEEDED, "the cluster has " + Limits.REGISTRIES_MAX + " registries, the limit");
        return;
      }
      changes.add(new RegistryCreated(wanted));
      for (io.roster.proto.MetaEntry m : c.getMetaList()) {
        changes.add(new MetaPut(wanted.name(), m.getKey(), m.getValue().toByteArray()));
      }
    }

    /** A partitioned registry's voters: at most 64, valid and distinct ids, valid addresses; none for one partition. */
    boolean validVoters(CreateRegistry c, int partitions) {
      if (c.getVotersCount() == 0) {
        return true;
      }
      if (partitions == 1 || c.getVotersCount() > VOTERS_MAX) {
        fail(Status.INVALID_ARGUMENT, "voters are for a partitioned registry, at most " + VOTERS_MAX + "; not "
            + c.getVotersCount() + " for " + partitions + " partition(s)");
        return false;
      }
      java.util.Set<String> ids = new java.util.HashSet<>();
      for (io.roster.proto.Voter v : c.getVotersList()) {
        String problem = Pid.problem(v.getId(), 1, 1);
        if (problem != null || !ids.add(v.getId()) || v.getAddress().isEmpty()) {
          fail(Status.INVALID_ARGUMENT, "voter '" + v.getId() + "' is " + (problem != null ? "not a valid id: " + problem
              : v.getAddress().isEmpty() ? "without an address" : "given twice"));
          return false;
        }
        if (!validAddress(v.getAddress())) {
          return false;
        }
      }
      return true;
    }

    /** The metadata a registry is created with: valid keys, distinct, values within the limit. */
    boolean validInitialMeta(CreateRegistry c, RegistryDescriptor wanted) {
      if (c.getMetaCount() > Limits.META_KEYS_PER_REGISTRY_MAX) {
        fail(Status.LIMIT_EXCEEDED, "a registry starts with at most " + Limits.META_KEYS_PER_REGISTRY_MAX
            + " meta keys, not " + c.getMetaCount());
        return false;
      }
      java.util.Set<String> seen = new java.util.HashSet<>();
      for (io.roster.proto.MetaEntry m : c.getMetaList()) {
        if (!validName(m.getKey(), "meta key", wanted.maxKeyBytes()) || !validValue(wanted, m.getValue().size())) {
          return false;
        }
        if (!seen.add(m.getKey())) {
          fail(Status.INVALID_ARGUMENT, "meta key '" + m.getKey() + "' is given twice");
          return false;
        }
      }
      return true;
    }

    /** 0 means the default; otherwise 1..cap. */
    Integer setting(int value, int defaultValue, int cap, String name) {
      if (value == 0) {
        return defaultValue;
      }
      if (value < 0 || value > cap) {
        fail(Status.INVALID_ARGUMENT, name + " must be 1.." + cap + " (0 for the default), was "
            + Integer.toUnsignedString(value));
        return null;
      }
      return value;
    }

    void register(Register c) {
      RegistryDescriptor registry = entriesHere(c.getRegistry());
      if (registry == null
          || !validName(c.getKey(), "key", registry.maxKeyBytes())
          || !validValue(registry, c.getValue().size())) {
        return;
      }
      Pid pid = validPid(c.hasPid(), c.getPid());
      if (pid == null || !liveSession(pid)) {
        return;
      }
      if (registry.unique()) {
        Registration owner = state.unique(registry.name(), c.getKey());
        if (owner != null) {
          failWithOwner(Status.ALREADY_REGISTERED, "'" + c.getKey() + "' is registered to " + owner.pid(),
              owner.pid());
          return;
        }
      }
      if (!roomFor(pid, registry, true)) {
        return;
      }
      changes.add(new Registered(
          new Registration(registry, c.getKey(), pid, c.hasValue() ? c.getValue().toByteArray() : null, index,
          ordinal)));
    }

    void unregister(Unregister c) {
      RegistryDescriptor registry = entriesHere(c.getRegistry());
      if (registry == null || !validName(c.getKey(), "key", registry.maxKeyBytes())) {
        return;
      }
      Pid pid = validPid(c.hasPid(), c.getPid());
      if (pid == null) {
        return;
      }
      if (c.getEntriesCount() > Limits.BATCH_COMMANDS_MAX) {
        fail(Status.LIMIT_EXCEEDED, "an unregister lists at most " + Limits.BATCH_COMMANDS_MAX + " entries");
        return;
      }
      List<Registration> held = registry.unique()
          ? java.util.Optional.ofNullable(state.unique(registry.name(), c.getKey())).map(List::of).orElse(List.of())
          : state.duplicates(registry.name(), c.getKey());
      java.util.Set<EntryRef> refs = new java.util.HashSet<>(c.getEntriesList());
      for (Registration r : held) {
        if (r.pid().equals(pid) && (refs.isEmpty() || refs.contains(ref(r)))) {
          changes.add(new Unregistered(r));
        }
      }
      result.setRemoved(changes.size());
    }

    private static EntryRef ref(Registration r) {
      return EntryRef.newBuilder().setRevision(r.index()).setOrdinal(r.ordinal()).build();
    }

    void unregisterPid(UnregisterPid c) {
      Pid pid = validPid(c.hasPid(), c.getPid());
      if (pid != null) {
        result.setRemoved(releaseEverything(pid));
      }
    }

    /** Adds the changes that remove everything the pid holds; returns how many registrations. */
    int releaseEverything(Pid pid) {
      List<Registration> registrations = state.registrationsOf(pid);
      for (Registration r : registrations) {
        changes.add(new Unregistered(r));
      }
      for (LockHold lock : state.locksOf(pid)) {
        changes.add(new LockReleased(lock));
      }
      return registrations.size();
    }

    void updateValue(UpdateValue c) {
      RegistryDescriptor registry = entriesHere(c.getRegistry());
      if (registry == null || !validName(c.getKey(), "key", registry.maxKeyBytes())) {
        return;
      }
      if (!registry.unique()) {
        fail(Status.WRONG_MODE, "update_value needs a unique registry; '" + registry.name() + "' is duplicate");
        return;
      }
      if (!validValue(registry, c.getValue().size())) {
        return;
      }
      Pid pid = validPid(c.hasPid(), c.getPid());
      if (pid == null || !liveSession(pid)) {
        return;
      }
      Registration before = state.unique(registry.name(), c.getKey());
      if (before == null) {
        fail(Status.NOT_REGISTERED, "'" + c.getKey() + "' is not registered");
        return;
      }
      if (!before.pid().equals(pid)) {
        failWithOwner(Status.NOT_OWNER, "'" + c.getKey() + "' is registered to " + before.pid(), before.pid());
        return;
      }
      if (c.hasExpected() && !c.getExpected().equals(ref(before))) {
        fail(Status.VALUE_CHANGED, "'" + c.getKey() + "' changed since revision "
            + Revisions.of(c.getExpected().getRevision(), Math.min(c.getExpected().getOrdinal(), Revisions.PER_ENTRY - 1))
            + " (now " + before.revision() + ")");
        return;
      }
      byte[] value = c.hasValue() ? c.getValue().toByteArray() : null;
      Registration after = new Registration(registry, before.key(), pid, value, index, ordinal);
      changes.add(new ValueUpdated(before, after));
      if (before.hasValue()) {
        result.setOldValue(ByteString.copyFrom(before.valueUnsafe())).setHadOldValue(true);
      }
      result.setNewValue(c.getValue());
    }

    void putMeta(PutMeta c) {
      RegistryDescriptor registry = existingRegistry(c.getRegistry());
      if (registry == null
          || !validName(c.getKey(), "meta key", registry.maxKeyBytes())
          || !validValue(registry, c.getValue().size())) {
        return;
      }
      byte[] previous = state.meta(registry.name(), c.getKey());
      if (previous == null && state.metaCount(registry.name()) >= Limits.META_KEYS_PER_REGISTRY_MAX) {
        fail(Status.LIMIT_EXCEEDED, "registry '" + registry.name() + "' has " + Limits.META_KEYS_PER_REGISTRY_MAX
            + " meta keys, the limit");
        return;
      }
      if (previous != null) {
        result.setOldValue(ByteString.copyFrom(previous)).setHadOldValue(true);
      }
      changes.add(new MetaPut(registry.name(), c.getKey(), c.getValue().toByteArray()));
    }

    void deleteMeta(DeleteMeta c) {
      RegistryDescriptor registry = existingRegistry(c.getRegistry());
      if (registry == null || !validName(c.getKey(), "meta key", registry.maxKeyBytes())) {
        return;
      }
      byte[] previous = state.meta(registry.name(), c.getKey());
      if (previous != null) {
        result.setOldValue(ByteString.copyFrom(previous)).setHadOldValue(true).setRemoved(1);
        changes.add(new MetaDeleted(registry.name(), c.getKey()));
      }
    }

    void openSession(OpenSession c) {
      if (!validSessionId(c.getNodeId(), c.getIncarnation())) {
        return;
      }
      long timeout = c.getTimeoutMillis() == 0 ? Session.TIMEOUT_MILLIS_DEFAULT : c.getTimeoutMillis();
      if (timeout < Session.TIMEOUT_MILLIS_MIN || timeout > Session.TIMEOUT_MILLIS_MAX) {
        fail(Status.INVALID_ARGUMENT, "session timeout must be " + Session.TIMEOUT_MILLIS_MIN + ".."
            + Session.TIMEOUT_MILLIS_MAX + " ms, was " + timeout);
        return;
      }
      if (!validAddress(c.getAddress())) {
        return;
      }
      Session opened = new Session(c.getNodeId(), c.getIncarnation(), timeout, false, index, c.getAddress());
      Session current = state.session(c.getNodeId());
      if (current != null) {
        if (c.getIncarnation() < current.incarnation()
            || (c.getIncarnation() == current.incarnation() && current.expired())) {
          sessionEnded(c.getNodeId(), c.getIncarnation(), "node " + c.getNodeId() + " incarnation "
              + c.getIncarnation() + " is superseded or expired (current: incarnation " + current.incarnation()
              + (current.expired() ? ", expired)" : ")"));
          return;
        }
        if (c.getIncarnation() == current.incarnation()) {
          if (timeout != current.timeoutMillis() || !c.getAddress().equals(current.address())) {
            changes.add(new SessionChanged(opened));
          }
          return; // already open: idempotent
        }
        result.setRemoved(releaseIncarnation(current.nodeId(), current.incarnation()));
      } else if (state.sessionCount() >= Limits.SESSIONS_MAX) {
        fail(Status.LIMIT_EXCEEDED, "the cluster has " + Limits.SESSIONS_MAX + " node sessions, the limit");
        return;
      }
      changes.add(new SessionChanged(opened));
    }

    /** Empty, or {@code host:port} of at most 255 bytes with a port 1..65535. */
    boolean validAddress(String address) {
      if (address.isEmpty()) {
        return true;
      }
      int colon = address.lastIndexOf(':');
      boolean ok = address.length() <= Limits.ADDRESS_BYTES_MAX && colon > 0 && colon < address.length() - 1
          && address.getBytes(java.nio.charset.StandardCharsets.UTF_8).length <= Limits.ADDRESS_BYTES_MAX;
      if (ok) {
        try {
          int port = Integer.parseInt(address.substring(colon + 1));
          ok = port >= 1 && port <= 65_535;
        } catch (NumberFormatException e) {
          ok = false;
        }
      }
      if (!ok) {
        fail(Status.INVALID_ARGUMENT, "address must be host:port (at most " + Limits.ADDRESS_BYTES_MAX
            + " bytes, port 1..65535), was '" + address + "'");
      }
      return ok;
    }

    void expireSession(ExpireSession c) {
      if (!validSessionId(c.getNodeId(), c.getIncarnation())) {
        return;
      }
      if (c.getLeaderTerm() != 0 && c.getLeaderTerm() != term) {
        fail(Status.STALE_TERM, "expiry decided in term " + c.getLeaderTerm() + " was committed in term " + term);
        return;
      }
      Session current = state.session(c.getNodeId());
      if (current == null || current.expired() || current.incarnation() != c.getIncarnation()) {
        result.setDetail("session was not open"); // idempotent: nothing to expire
        return;
      }
      result.setRemoved(releaseIncarnation(current.nodeId(), current.incarnation()));
      changes.add(new SessionChanged(
          new Session(current.nodeId(), current.incarnation(), current.timeoutMillis(), true, index,
              current.address())));
    }

    boolean validSessionId(String nodeId, long incarnation) {
      String problem = Pid.problem(nodeId, incarnation, 1);
      if (problem != null) {
        fail(Status.INVALID_ARGUMENT, "invalid session: " + problem);
        return false;
      }
      return true;
    }

    int releaseIncarnation(String nodeId, long incarnation) {
      int removed = 0;
      for (Pid pid : state.pidsOf(nodeId, incarnation)) {
        removed += releaseEverything(pid);
      }
      return removed;
    }

    void acquireLock(AcquireLock c) {
      RegistryDescriptor registry = entriesHere(c.getRegistry());
      if (registry == null || !validName(c.getLockKey(), "lock key", registry.maxKeyBytes())) {
        return;
      }
      Pid pid = validPid(c.hasPid(), c.getPid());
      if (pid == null || !liveSession(pid)) {
        return;
      }
      LockHold held = state.lock(registry.name(), c.getLockKey());
      if (held != null) {
        failWithOwner(Status.LOCK_HELD, "lock '" + c.getLockKey() + "' is held by " + held.pid()
            + " (token " + held.token() + ")", held.pid());
        return;
      }
      if (!roomFor(pid, registry, false)) {
        return;
      }
      long token = revision; // the fencing token: two acquisitions in one entry still grow
      changes.add(new LockAcquired(new LockHold(registry.name(), c.getLockKey(), pid, token)));
      result.setToken(token);
    }

    void releaseLock(ReleaseLock c) {
      RegistryDescriptor registry = entriesHere(c.getRegistry());
      if (registry == null || !validName(c.getLockKey(), "lock key", registry.maxKeyBytes())) {
        return;
      }
      Pid pid = validPid(c.hasPid(), c.getPid());
      if (pid == null) {
        return;
      }
      LockHold held = state.lock(registry.name(), c.getLockKey());
      if (held == null) {
        fail(Status.NOT_OWNER, "lock '" + c.getLockKey() + "' is not held");
        return;
      }
      if (!held.pid().equals(pid)) {
        failWithOwner(Status.NOT_OWNER, "lock '" + c.getLockKey() + "' is held by " + held.pid(), held.pid());
        return;
      }
      changes.add(new LockReleased(held));
      result.setToken(held.token());
    }
  }
}
