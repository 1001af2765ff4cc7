package io.roster;

import java.util.Objects;

/**
 * One entry of a registry: its key, its owner, its value (decoded by the registry's codec) and the
 * revision that wrote it. Immutable if the value is.
 *
 * @param <V> the value type
 */
public final class RegistryEntry<V> {
  private final String key;
  private final Pid pid;
  private final V value;
  private final long revision;

  public RegistryEntry(String key, Pid pid, V value, long revision) {
    this.key = Objects.requireNonNull(key, "key");
    this.pid = Objects.requireNonNull(pid, "pid");
    this.value = value;
    this.revision = revision;
  }

  public String key() {
    return key;
  }

  public Pid pid() {
    return pid;
  }

  /** The value; for the built-in byte codec, a copy of its own. */
  public V value() {
    return value;
  }

  /** The revision that created the entry or last updated its value. */
  public long revision() {
    return revision;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RegistryEntry<?> e && e.key.equals(key) && e.pid.equals(pid) && e.revision == revision
        && java.util.Objects.deepEquals(e.value, value);
  }

  @Override
  public int hashCode() {
    return (key.hashCode() * 31 + pid.hashCode()) * 31 + Long.hashCode(revision);
  }

  @Override
  public String toString() {
    String v = value instanceof byte[] b ? b.length + " bytes" : String.valueOf(value);
    return key + "=" + pid + " (" + v + ")@" + revision;
  }
}
