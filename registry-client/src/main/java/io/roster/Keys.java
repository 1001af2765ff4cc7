package io.roster;

/**
 * How a registry's keys behave, fixed when the registry is created (Elixir's {@code :keys} option).
 * The two duplicate modes differ only in where a registry of several partitions keeps an entry.
 */
public enum Keys {
  /** A key has at most one owner; a partitioned registry keeps a key in the key's partition. */
  UNIQUE,
  /**
   * A key may have any number of entries, from any processes, including several from one process;
   * a partitioned registry keeps a process's entries in the pid's partition, so a key's entries
   * span partitions and reading them asks every partition (Elixir's {@code :duplicate}, which is
   * {@code {:duplicate, :pid}}).
   */
  DUPLICATE,
  /**
   * Duplicate keys as {@link #DUPLICATE}, but a partitioned registry keeps all entries of a key in
   * the key's partition, so reading a key asks one partition (Elixir's {@code {:duplicate, :key}}).
   */
  DUPLICATE_BY_KEY;

  /** True for both duplicate modes. */
  public boolean duplicate() {
    return this != UNIQUE;
  }
}
