package io.roster.statemachine;

import io.roster.statemachine.proto.KeyMode;

/**
 * A registry's replicated settings, fixed at creation.
 *
 * @param revision the revision of the create command
 */
public record RegistryDescriptor(
    String name,
    KeyMode mode,
    int partitions,
    int maxKeyBytes,
    int maxValueBytes,
    int maxRegistrationsPerPid,
    long revision) {

  public boolean unique() {
    return mode == KeyMode.UNIQUE;
  }

  /** True when the settings (all but the revision) are the same. */
  boolean sameSettings(RegistryDescriptor other) {
    return mode == other.mode
        && partitions == other.partitions
        && maxKeyBytes == other.maxKeyBytes
        && maxValueBytes == other.maxValueBytes
        && maxRegistrationsPerPid == other.maxRegistrationsPerPid;
  }
}
