package io.roster.schema;

import com.google.protobuf.ByteString;
import io.roster.Pid;
import io.roster.proto.ChangeEntry;
import io.roster.proto.ChangeProto;
import io.roster.proto.LockChange;
import io.roster.proto.MetaChange;
import io.roster.proto.RegistrationChange;
import io.roster.proto.RegistryCreatedChange;
import io.roster.proto.SessionChange;
import io.roster.proto.ValueUpdatedChange;
import io.roster.schema.Change.LockAcquired;
import io.roster.schema.Change.LockReleased;
import io.roster.schema.Change.MetaDeleted;
import io.roster.schema.Change.MetaPut;
import io.roster.schema.Change.Registered;
import io.roster.schema.Change.RegistryCreated;
import io.roster.schema.Change.SessionChanged;
import io.roster.schema.Change.Unregistered;
import io.roster.schema.Change.ValueUpdated;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/** Changes on the wire: what a voter's change stream sends and a client's mirror applies. */
public final class ChangeCodec {
  private ChangeCodec() {}

  /** A change on the wire; {@code decode} reads it back against the registries it names. */
  public static ChangeProto encode(Change change) {
    ChangeProto.Builder b = ChangeProto.newBuilder();
    if (change instanceof RegistryCreated c) {
      b.setRegistryCreated(RegistryCreatedChange.newBuilder().setName(c.registry().name())
          .setRecord(Records.of(c.registry())));
    } else if (change instanceof Registered c) {
      b.setRegistered(registration(c.registration()));
    } else if (change instanceof Unregistered c) {
      b.setUnregistered(registration(c.registration()));
    } else if (change instanceof ValueUpdated c) {
      b.setValueUpdated(ValueUpdatedChange.newBuilder().setBefore(registration(c.before()))
          .setAfter(registration(c.after())));
    } else if (change instanceof MetaPut c) {
      b.setMetaPut(MetaChange.newBuilder().setRegistry(c.registry()).setKey(c.key())
          .setValue(ByteString.copyFrom(c.value())));
    } else if (change instanceof MetaDeleted c) {
      b.setMetaDeleted(MetaChange.newBuilder().setRegistry(c.registry()).setKey(c.key()));
    } else if (change instanceof SessionChanged c) {
      b.setSessionChanged(SessionChange.newBuilder().setNodeId(c.session().nodeId())
          .setRecord(Records.of(c.session())));
    } else if (change instanceof LockAcquired c) {
      b.setLockAcquired(lock(c.lock()));
    } else if (change instanceof LockReleased c) {
      b.setLockReleased(lock(c.lock()));
    } else {
      throw new IllegalArgumentException("unknown change " + change);
    }
    return b.build();
  }

  /** An entry's changes, all of them made by its first command (a dump, which carries no events). */
  public static ChangeEntry encode(long index, List<Change> changes) {
    return encode(index, changes, null);
  }

  /** An entry's changes; {@code ordinals[i]} is the position of the command that made change i (null: 0). */
  public static ChangeEntry encode(long index, List<Change> changes, int[] ordinals) {
    ChangeEntry.Builder b = ChangeEntry.newBuilder().setIndex(index);
    for (int i = 0; i < changes.size(); i++) {
      ChangeProto p = encode(changes.get(i));
      b.addChanges(ordinals == null || ordinals[i] == 0 ? p : p.toBuilder().setOrdinal(ordinals[i]).build());
    }
    return b.build();
  }

  private static RegistrationChange registration(Registration r) {
    return RegistrationChange.newBuilder().setRegistry(r.registry().name()).setKey(r.key()).setRecord(Records.of(r))
        .build();
  }

  private static LockChange lock(LockHold l) {
    return LockChange.newBuilder().setRegistry(l.registry()).setLockKey(l.lockKey()).setRecord(Records.of(l)).build();
  }

  /**
   * Decodes changes against the state they will be applied to: {@code registries} finds the
   * descriptors it holds (null for none), and registries created earlier in the same list count too.
   *
   * @throws IllegalArgumentException if a change is malformed or names an unknown registry
   */
  public static List<Change> decode(List<ChangeProto> protos, java.util.function.Function<String, RegistryDescriptor> registries,
      UnaryOperator<Pid> pids) {
    List<Change> changes = new ArrayList<>(protos.size());
    java.util.Map<String, RegistryDescriptor> created = new java.util.HashMap<>();
    java.util.function.Function<String, RegistryDescriptor> registry = name -> {
      RegistryDescriptor d = created.containsKey(name) ? created.get(name) : registries.apply(name);
      if (d == null) {
        throw new IllegalArgumentException("change names the unknown registry '" + name + "'");
      }
      return d;
    };
    for (ChangeProto p : protos) {
      switch (p.getKindCase()) {
        case REGISTRY_CREATED -> {
          RegistryDescriptor d = Records.descriptor(p.getRegistryCreated().getName(), p.getRegistryCreated().getRecord());
          created.put(d.name(), d);
          changes.add(new RegistryCreated(d));
        }
        case REGISTERED -> changes.add(new Registered(registration(p.getRegistered(), registry, pids)));
        case UNREGISTERED -> changes.add(new Unregistered(registration(p.getUnregistered(), registry, pids)));
        case VALUE_UPDATED -> changes.add(new ValueUpdated(
            registration(p.getValueUpdated().getBefore(), registry, pids),
            registration(p.getValueUpdated().getAfter(), registry, pids)));
        case META_PUT -> changes.add(new MetaPut(p.getMetaPut().getRegistry(), p.getMetaPut().getKey(),
            p.getMetaPut().getValue().toByteArray()));
        case META_DELETED -> changes.add(new MetaDeleted(p.getMetaDeleted().getRegistry(), p.getMetaDeleted().getKey()));
        case SESSION_CHANGED -> changes.add(new SessionChanged(
            Records.session(p.getSessionChanged().getNodeId(), p.getSessionChanged().getRecord())));
        case LOCK_ACQUIRED -> changes.add(new LockAcquired(lock(p.getLockAcquired(), pids)));
        case LOCK_RELEASED -> changes.add(new LockReleased(lock(p.getLockReleased(), pids)));
        default -> throw new IllegalArgumentException("unknown change kind " + p.getKindCase());
      }
    }
    return changes;
  }

  private static Registration registration(RegistrationChange c,
      java.util.function.Function<String, RegistryDescriptor> registry, UnaryOperator<Pid> pids) {
    return Records.registration(registry.apply(c.getRegistry()), c.getKey(), c.getRecord(), pids);
  }

  private static LockHold lock(LockChange c, UnaryOperator<Pid> pids) {
    return Records.lock(c.getRegistry(), c.getLockKey(), c.getRecord(), pids);
  }
}
