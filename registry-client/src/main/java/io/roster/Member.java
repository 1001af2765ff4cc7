package io.roster;

/**
 * A node with an open session in the cluster.
 *
 * @param voter whether the node is one of the Raft voters
 */
public record Member(String nodeId, long incarnation, boolean voter) {}
