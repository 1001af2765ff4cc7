package io.roster.internal.node;

import io.roster.RegistryUnavailableException;
import io.roster.internal.NodeConfig;
import io.roster.ratis.RegistryStateMachine;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.GroupManagementRequest;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.exceptions.AlreadyExistsException;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.server.RaftServer;

/**
 * The Raft groups of a registry's partitions on a voter: the voters a partitioned registry records
 * at its creation, the first configuration each partition group starts with, and the hosting of a
 * group on this voter's server.
 */
final class PartitionGroups {
  private PartitionGroups() {}

  /**
   * The cluster group's voters as this voter's Raft state has them now (id → address).
   *
   * @throws RegistryUnavailableException while a membership change is under way
   */
  static Map<String, String> clusterVoters(RaftServer server, RaftGroup cluster) {
    try {
      RaftConfiguration conf = server.getDivision(cluster.getGroupId()).getRaftConf();
      if (!conf.getPreviousPeers().isEmpty()) {
        throw new RegistryUnavailableException("a change of the cluster's voters is under way: create the "
            + "partitioned registry once it is done", null);
      }
      Map<String, String> voters = new TreeMap<>();
      conf.getCurrentPeers().forEach(p -> voters.put(p.getId().toString(), p.getAddress()));
      return voters;
    } catch (IOException e) {
      throw new RegistryUnavailableException("the cluster's group is not open here: " + e.getMessage(), e);
    }
  }

  /**
   * The first configuration of a partition group: the voters recorded with its registry, each at
   * the address the cluster's group (else this node's voters list) gives it now, so that a cluster
   * restored from a backup at other addresses finds its peers. Empty (this node's own list) when
   * nothing was recorded, or when none of the recorded voters is a voter now (a cluster restored
   * under other ids).
   */
  static Map<String, String> firstConfiguration(NodeConfig config, RaftServer server, RaftGroup cluster,
      Map<String, String> recorded) {
    Map<String, String> now = new HashMap<>(config.voters());
    if (server != null) {
      try {
        server.getDivision(cluster.getGroupId()).getRaftConf().getAllPeers()
            .forEach(p -> now.put(p.getId().toString(), p.getAddress()));
      } catch (IOException notOpen) {
        // this node's list only
      }
    }
    if (recorded.keySet().stream().noneMatch(now::containsKey)) {
      return Map.of();
    }
    Map<String, String> first = new TreeMap<>();
    recorded.forEach((id, address) -> first.put(id, now.getOrDefault(id, address)));
    return first;
  }

  /**
   * Whether this voter became a voter of the cluster's group after the registry was created: added
   * since, or replaced under its old id (removed, then added again). Its partition groups then exist
   * already, with a log in which it is absent, or present and then removed.
   */
  static boolean joinsLate(io.roster.schema.RegistryDescriptor described, RegistryStateMachine cluster) {
    return described != null && cluster != null && cluster.becameVoterAfter(described.revision());
  }

  /**
   * {@code group} without this server: the first configuration of a partition group that this voter
   * joins late. Ratis starts a member that its configuration does not name as initializing: it runs
   * no election timer until the leader has caught it up and admitted it. Named in it, the voter would
   * run the timer while it replays the log; past the entry that once removed it, its configuration
   * no longer names it, and a timeout there (the leader slow to send the entry that admits it again)
   * makes Ratis shut the group down on this server for good.
   */
  static RaftGroup withoutSelf(RaftGroup group, org.apache.ratis.protocol.RaftPeerId self) {
    return RaftGroup.valueOf(group.getGroupId(),
        group.getPeers().stream().filter(p -> !p.getId().equals(self)).toList());
  }

  /** Whether this voter's server hosts group {@code id}: found on disk at start, or added since. */
  static boolean hosted(RaftServer server, org.apache.ratis.protocol.RaftGroupId id) {
    try {
      server.getDivision(id);
      return true;
    } catch (IOException notHosted) {
      return false;
    }
  }

  /** Makes this voter's server host {@code raftGroup} if it does not already (it then catches up from the leader). */
  static void host(RaftServer server, RaftGroup raftGroup) {
    if (hosted(server, raftGroup.getGroupId())) {
      return;
    }
    try {
      RaftClientReply reply = server.groupManagement(GroupManagementRequest.newAdd(ClientId.randomId(),
          server.getId(), GROUP_CALLS.incrementAndGet(), raftGroup));
      if (!reply.isSuccess()) {
        throw new RegistryUnavailableException(server.getId() + " cannot host group " + raftGroup.getGroupId() + ": "
            + reply.getException(), reply.getException());
      }
    } catch (AlreadyExistsException raced) {
      // hosted meanwhile
    } catch (IOException e) {
      throw new RegistryUnavailableException(server.getId() + " cannot host group " + raftGroup.getGroupId() + ": "
          + e.getMessage(), e);
    }
  }

  /** Call ids of this process's group additions. */
  private static final AtomicLong GROUP_CALLS = new AtomicLong();
}
