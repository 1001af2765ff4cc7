package io.roster.schema;

/**
 * Hard caps and defaults of the replicated state. Every peer must run with the same values, so they
 * are constants of the schema version, not configuration: a registry may choose lower limits at
 * creation (replicated with it), never higher ones.
 */
public final class Limits {
  private Limits() {}

  public static final int REGISTRY_NAME_BYTES_MAX = 128;
  public static final int KEY_BYTES_CAP = 1024;
  public static final int KEY_BYTES_DEFAULT = 1024;
  public static final int VALUE_BYTES_CAP = 256 * 1024;
  public static final int VALUE_BYTES_DEFAULT = 16 * 1024;
  public static final int REGISTRATIONS_PER_PID_CAP = 1_000_000;
  public static final int REGISTRATIONS_PER_PID_DEFAULT = 10_000;
  public static final int PARTITIONS_MAX = 64;
  /**
   * Partition groups of all partitioned registries together: each is a Raft group on every voter,
   * with its own log, threads and a session of every node that uses it.
   */
  public static final int PARTITION_GROUPS_MAX = 256;
  /** A node's message address (host:port), in UTF-8 bytes. */
  public static final int ADDRESS_BYTES_MAX = 255;
  public static final int REGISTRIES_MAX = 100_000;
  /** Registrations held by one node's processes in one Raft group (the cluster's, or a partition's). */
  public static final int REGISTRATIONS_PER_NODE_MAX = 1_000_000;
  /** Registrations in one Raft group, of every node: what one voter's memory holds per group. */
  public static final long REGISTRATIONS_MAX = 20_000_000;
  public static final int SESSIONS_MAX = 100_000;
  public static final int META_KEYS_PER_REGISTRY_MAX = 10_000;
  /** Commands in one Raft entry. */
  public static final int BATCH_COMMANDS_MAX = 4096;
  /** Bytes of one encoded Raft entry. */
  public static final int BATCH_BYTES_MAX = 8 * 1024 * 1024;

  /**
   * Returns {@code s} if it is well-formed UTF-16 (every surrogate paired); a lone surrogate would
   * be encoded as '?' on the wire, so two different keys would name one entry.
   *
   * @throws NullPointerException if {@code s} is null, naming {@code what}
   * @throws IllegalArgumentException naming {@code what} and where the lone surrogate is
   */
  public static String requireWellFormed(String s, String what) {
    java.util.Objects.requireNonNull(s, what);
    for (int i = 0, n = s.length(); i < n; i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw new IllegalArgumentException(what + " is not well-formed UTF-16: a lone surrogate U+"
            + Integer.toHexString(c).toUpperCase(java.util.Locale.ROOT) + " at index " + i);
      }
    }
    return s;
  }

  /** Counts the UTF-8 bytes of a string without encoding it (an unpaired surrogate counts 3). */
  public static int utf8Length(CharSequence s) {
    int bytes = 0;
    for (int i = 0, n = s.length(); i < n; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        bytes += 1;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    }
    return bytes;
  }
}
