package io.roster;

import java.util.List;
import java.util.Map;

/**
 * What a node can tell about itself and each Raft group it is in, at once and without asking anyone:
 * {@link RegistryNode#status()}. A snapshot: the next heartbeat, write or election may change it.
 *
 * @param nodeId this node's id
 * @param role VOTER or CLIENT
 * @param incarnation this start's incarnation
 * @param health as {@link RegistryNode#health()} tells it
 * @param groups the cluster's group first, then the partition groups this node has opened
 */
public record NodeStatus(String nodeId, Role role, long incarnation, Health health, List<Group> groups) {
  public NodeStatus {
    groups = List.copyOf(groups);
  }

  /**
   * One Raft group as this node sees it.
   *
   * @param name "cluster", or "registry#partition"
   * @param groupId the Raft group's id
   * @param raftRole this voter's Raft role (LEADER, FOLLOWER, CANDIDATE, LISTENER), or CLIENT on a client node
   * @param leader the leader's node id as this node knows it, or null if none is known
   * @param term this voter's current term, or -1 on a client node
   * @param commitIndex the commit index this voter knows, or -1 on a client node
   * @param appliedIndex the Raft index this node's mirror of the group has applied
   * @param sessionOpen whether this node's session in the group is open
   * @param mirrorSource on a client node, the voter whose change stream its mirror of the group follows
   *     (a voter other than the leader when one answers), or null before the stream starts; on a voter,
   *     its own id (its state machine is its mirror)
   * @param registrations the registrations of each registry held in the group (a partitioned
   *     registry: its share in this partition group), as this node's mirror has them
   */
  public record Group(String name, String groupId, String raftRole, String leader, long term, long commitIndex,
      long appliedIndex, boolean sessionOpen, String mirrorSource, Map<String, Long> registrations) {
    public Group {
      registrations = Map.copyOf(registrations);
    }
  }
}
