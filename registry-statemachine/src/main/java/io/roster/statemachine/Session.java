package io.roster.statemachine;

/**
 * The replicated session of a node: its current incarnation and whether it has expired.
 *
 * @param revision the revision of the command that last changed it
 */
public record Session(String nodeId, long incarnation, boolean expired, long revision) {}
