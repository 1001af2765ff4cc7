package io.roster;

import java.util.Arrays;

/** One entry of a key: its owner, its value and the revision that wrote it. Immutable. */
public final class RegistryEntry {
  private final Pid pid;
  private final byte[] value;
  private final long revision;

  public RegistryEntry(Pid pid, byte[] value, long revision) {
    this.pid = pid;
    this.value = value.clone();
    this.revision = revision;
  }

  public Pid pid() {
    return pid;
  }

  /** A copy of the value. */
  public byte[] value() {
    return value.clone();
  }

  public long revision() {
    return revision;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RegistryEntry e && e.pid.equals(pid) && e.revision == revision && Arrays.equals(e.value, value);
  }

  @Override
  public int hashCode() {
    return pid.hashCode() * 31 + Long.hashCode(revision);
  }

  @Override
  public String toString() {
    return pid + "@" + revision;
  }
}
