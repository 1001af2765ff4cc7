package io.roster;

import java.util.List;
import java.util.Map;

/**
 * What one voter found at a digest check of one Raft group ({@link RegistryNode#checkConsistency}):
 * each replica's digest of its state at the check's entry, from those that answered, and the
 * majority's digest.
 *
 * @param group the group's label: {@code cluster}, or a registry's partition ({@code name#2})
 * @param index the Raft index of the digest-check entry: every replica digests its state there
 * @param digests each answering replica's digest (SHA-256, hex), by node id
 * @param majority the digest a majority of the group's voters reported, or null if none did
 * @param silent the voters of the group that gave no digest (down, or not yet at the check's entry), sorted
 */
public record ConsistencyReport(String group, long index, Map<String, String> digests, String majority,
    List<String> silent) {
  public ConsistencyReport {
    digests = Map.copyOf(digests);
    silent = List.copyOf(silent);
  }

  /** Whether every voter answered with the majority's digest. */
  public boolean consistent() {
    return majority != null && silent.isEmpty() && diverged().isEmpty();
  }

  /** The replicas whose digest is not the majority's (all of them if there is no majority), sorted. */
  public List<String> diverged() {
    return digests.entrySet().stream().filter(e -> !e.getValue().equals(majority)).map(Map.Entry::getKey).sorted()
        .toList();
  }
}
