package io.roster.schema;

import io.roster.proto.KeyMode;

/**
 * A registry's replicated settings, fixed at creation.
 *
 * @param revision the Raft index of the entry that created the registry
 * @param voters a partitioned registry's first configuration of its partition groups (id → address),
 *     the cluster group's voters when it was created; empty for one created before this was kept
 */
public record RegistryDescriptor(
    String name,
    KeyMode mode,
    int partitions,
    int maxKeyBytes,
    int maxValueBytes,
    int maxRegistrationsPerPid,
    long revision,
    java.util.SortedMap<String, String> voters) {

  public RegistryDescriptor {
    voters = java.util.Collections.unmodifiableSortedMap(new java.util.TreeMap<>(voters));
  }

  /** A registry with no recorded voters (one partition, or created before they were kept). */
  public RegistryDescriptor(String name, KeyMode mode, int partitions, int maxKeyBytes, int maxValueBytes,
      int maxRegistrationsPerPid, long revision) {
    this(name, mode, partitions, maxKeyBytes, maxValueBytes, maxRegistrationsPerPid, revision,
        new java.util.TreeMap<>());
  }

  public boolean unique() {
    return mode == KeyMode.UNIQUE;
  }

  /** True when the settings (all but the revision) are the same. */
  public boolean sameSettings(RegistryDescriptor other) {
    return mode == other.mode
        && partitions == other.partitions
        && maxKeyBytes == other.maxKeyBytes
        && maxValueBytes == other.maxValueBytes
        && maxRegistrationsPerPid == other.maxRegistrationsPerPid;
  }
}
