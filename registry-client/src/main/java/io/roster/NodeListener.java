package io.roster;

/** Callbacks about a node's standing in the cluster; called on a Roster thread, must not block. */
public interface NodeListener {
  /**
   * This node's session expired: the leader stopped hearing from it (a partition, a long pause).
   * Every registration of its processes is gone and its writes are refused; close the node and
   * start it again to rejoin.
   */
  default void sessionExpired(String nodeId, long incarnation) {}
}
