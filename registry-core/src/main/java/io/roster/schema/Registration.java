package io.roster.schema;

import io.roster.Pid;
import java.util.Arrays;

/**
 * One registration: a key of a registry held by a pid, with a value.
 *
 * <p>Immutable once published to the mirror. The value array (null for no value) is never modified
 * and must not be handed to users without a copy. {@code (index, ordinal)} identifies the registration uniquely:
 * the Raft index of the entry that created (or last updated) it and the command's position inside
 * that entry; together they are its {@link #revision()}.
 */
public final class Registration {
  private final RegistryDescriptor registry;
  private final String key;
  private final Pid pid;
  private final byte[] value;
  private final long index;
  private final int ordinal;

  public Registration(RegistryDescriptor registry, String key, Pid pid, byte[] value, long index, int ordinal) {
    this.registry = registry;
    this.key = key;
    this.pid = pid;
    this.value = value;
    this.index = index;
    this.ordinal = ordinal;
  }

  public RegistryDescriptor registry() {
    return registry;
  }

  public String key() {
    return key;
  }

  public Pid pid() {
    return pid;
  }

  /** The stored value, or null for a registration with no value; callers must not modify it. */
  public byte[] valueUnsafe() {
    return value;
  }

  /** Whether the registration has a value (a registration made with none reads back as none). */
  public boolean hasValue() {
    return value != null;
  }

  /** The Raft index of the entry whose command created the registration or last updated its value. */
  public long index() {
    return index;
  }

  /** The revision of the command that created the registration or last updated its value: a fencing token. */
  public long revision() {
    return Revisions.of(index, ordinal);
  }

  public int ordinal() {
    return ordinal;
  }

  /** True for the same registration: same registry, key, pid and (index, ordinal). */
  public boolean sameIdentity(Registration other) {
    return index == other.index
        && ordinal == other.ordinal
        && key.equals(other.key)
        && pid.equals(other.pid)
        && registry.name().equals(other.registry.name());
  }

  /** Orders duplicates of one key by creation: (index, ordinal). */
  public static int creationOrder(Registration a, Registration b) {
    int c = Long.compare(a.index, b.index);
    return c != 0 ? c : Integer.compare(a.ordinal, b.ordinal);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Registration
        && sameIdentity((Registration) o)
        && Arrays.equals(value, ((Registration) o).value);
  }

  @Override
  public int hashCode() {
    return 31 * key.hashCode() + Long.hashCode(index) * 17 + ordinal;
  }

  @Override
  public String toString() {
    return registry.name() + "/" + key + " -> " + pid + " value=" + Arrays.toString(value)
        + " @" + index + "." + ordinal;
  }
}
