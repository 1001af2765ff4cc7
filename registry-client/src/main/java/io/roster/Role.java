package io.roster;

/** What a node is in the cluster. */
public enum Role {
  /** A Raft peer: votes, stores the log and the state, keeps a mirror. A cluster has 3 or 5. */
  VOTER,
  /**
   * Not in the Raft configuration: keeps a mirror fed by a voter's ordered change stream and sends
   * its writes to the leader. What most service JVMs are.
   */
  CLIENT
}
