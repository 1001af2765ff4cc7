package io.roster.core;

import io.roster.Pid;
import io.roster.schema.LockHold;
import io.roster.schema.Registration;
import io.roster.schema.RegistryDescriptor;
import io.roster.schema.Session;
import java.util.List;

/** What {@link RegistryCore} reads to decide a command. Implemented by the {@link io.roster.mirror.Mirror}. */
public interface StateView {
  /** The registry, or null. */
  RegistryDescriptor registry(String name);

  int registryCount();

  /** The partition groups of every registry of more than one partition, together. */
  int partitionGroupCount();

  /** The registration of a unique key, or null. */
  Registration unique(String registry, String key);

  /** The registrations of a duplicate key in creation order; empty if none. */
  List<Registration> duplicates(String registry, String key);

  /** Every registration the pid holds, in any registry. */
  List<Registration> registrationsOf(Pid pid);

  /** Every lock the pid holds, in any registry. */
  List<LockHold> locksOf(Pid pid);

  /** The pids of one node incarnation that hold anything (registrations or locks). */
  List<Pid> pidsOf(String nodeId, long incarnation);

  /** An equal pid that shares storage with what the state already holds (or {@code pid} itself). */
  default Pid canonical(Pid pid) {
    return pid;
  }

  /** Registrations plus locks the pid holds. */
  int holdingsOf(Pid pid);

  /** The session of a node, or null. */
  Session session(String nodeId);

  int sessionCount();

  LockHold lock(String registry, String lockKey);

  /** The metadata value, or null. */
  byte[] meta(String registry, String key);

  int metaCount(String registry);

  /** Registrations held by the processes of node {@code nodeId} (any incarnation), in this group. */
  int registrationsOfNode(String nodeId);

  /** Registrations in this group, of every registry. */
  long registrationCount();
}
