package io.roster;

/** Callbacks about a node's standing in the cluster; called on a Roster thread, must not block. */
public interface NodeListener {
  /**
   * This node's session expired: the leader stopped hearing from it (a partition, a long pause).
   * Every registration of its processes is gone and its processes are dead. A client node refuses
   * writes from then on: close it and start it again to rejoin. A voter rejoins by itself, as a new
   * incarnation ({@link #rejoined}).
   */
  default void sessionExpired(String nodeId, long incarnation) {}

  /**
   * This voter, whose session of incarnation {@code lost} expired, goes on as incarnation
   * {@code incarnation}: it is opening a new session in every group, and its API works again once
   * they are open ({@link RegistryNode#ready()}). Processes spawned from now on carry the new
   * incarnation.
   */
  default void rejoined(String nodeId, long lost, long incarnation) {}
}
