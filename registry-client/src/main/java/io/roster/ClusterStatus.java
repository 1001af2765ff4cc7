package io.roster;

import java.util.List;

/**
 * The cluster as its Raft groups' leaders and members describe themselves ({@link Membership#status()}),
 * through Ratis' admin service: the cluster's group first, then every partition group.
 *
 * @param groups one entry per Raft group
 */
public record ClusterStatus(List<Group> groups) {
  public ClusterStatus {
    groups = List.copyOf(groups);
  }

  /** Whether every group has a leader and every member answered and is within {@link Health#APPLY_LAG_MAX} of it. */
  public boolean healthy() {
    return groups.stream().allMatch(g -> g.leader() != null
        && g.members().stream().allMatch(m -> m.reachable() && m.lag() <= Health.APPLY_LAG_MAX));
  }

  /**
   * One Raft group.
   *
   * @param groupId the group's id
   * @param name {@code cluster}, or a partition's {@code registry#partition}; null if its registry is not
   *     known (the cluster's group has no leader, or the registry is being created)
   * @param cluster whether it is the cluster's group (else a partition group)
   * @param leader the leader's node id, or null if none answered as the leader
   * @param term the leader's term, or -1
   * @param commitIndex the leader's commit index, or -1
   * @param members the voters of the leader's configuration
   */
  public record Group(String groupId, String name, boolean cluster, String leader, long term, long commitIndex,
      List<Member> members) {
    public Group {
      members = List.copyOf(members);
    }
  }

  /**
   * One voter of a group, as it answers for itself (its commit index as the leader knows it when it
   * does not answer).
   *
   * @param nodeId its node id
   * @param address its Raft address
   * @param reachable whether it answered
   * @param role its Raft role (LEADER, FOLLOWER, CANDIDATE, ...), or UNREACHABLE
   * @param commitIndex the commit index it knows (as the leader knows it, if it did not answer)
   * @param appliedIndex the index it applied, or -1 if it did not answer
   * @param lag entries the leader committed that it has not applied (or not acknowledged)
   * @param lastContactMillis milliseconds since the leader last heard from it (0 for the leader itself)
   */
  public record Member(String nodeId, String address, boolean reachable, String role, long commitIndex,
      long appliedIndex, long lag, long lastContactMillis) {}
}
