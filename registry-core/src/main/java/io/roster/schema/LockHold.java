package io.roster.schema;

import io.roster.Pid;

/**
 * A held lock of a registry's lock namespace.
 *
 * @param token the revision of the acquisition: grows with every acquisition of any lock, so a
 *     later holder always has a larger token (usable as a fencing token)
 */
public record LockHold(String registry, String lockKey, Pid pid, long token) {}
