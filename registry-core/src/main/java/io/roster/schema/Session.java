package io.roster.schema;

/**
 * The replicated session of a node: its current incarnation, its timeout, and whether it expired.
 *
 * @param timeoutMillis how long the leader may go without a heartbeat before expiring it
 * @param revision the revision of the command that last changed it
 * @param address where the node incarnation's processes receive messages (host:port), empty if nowhere
 */
public record Session(String nodeId, long incarnation, long timeoutMillis, boolean expired, long revision,
    String address) {
  public static final long TIMEOUT_MILLIS_MIN = 1_000;
  public static final long TIMEOUT_MILLIS_MAX = 60_000;
  public static final long TIMEOUT_MILLIS_DEFAULT = 5_000;
}
