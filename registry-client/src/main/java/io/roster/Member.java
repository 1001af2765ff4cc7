package io.roster;

/**
 * A node with an open session in the cluster.
 *
 * @param voter whether the node is one of the Raft voters
 * @param address where the node's processes receive messages from other nodes (host:port)
 */
public record Member(String nodeId, long incarnation, boolean voter, String address) {}
