package io.roster.spring;

import io.roster.NodeListener;

/**
 * A bean of the application that hears of its Roster node's standing: its session expired, or (a
 * voter) it rejoined as a new incarnation. Called on a Roster thread: do not block.
 */
public interface RosterNodeEvents extends NodeListener {}
