package io.roster;

/**
 * How fresh a read must be.
 *
 * <ul>
 *   <li>{@link #LOCAL}: the local mirror as it is; never blocks, may lag the leader by the
 *       replication window.
 *   <li>{@link #atLeast(long)}: the local mirror once it has applied the given revision (for
 *       read-your-writes on another node: pass the revision a write returned; on the node that
 *       wrote, every read already sees its writes); waits, bounded by the node's request timeout,
 *       then fails with {@link RegistryUnavailableException} saying where the mirror is.
 *   <li>{@link #LINEARIZABLE}: a ReadIndex barrier from the leader, then the local mirror once it has
 *       applied that index: reflects every write acknowledged before the read began. Concurrent
 *       linearizable reads on a node share barriers.
 * </ul>
 */
public final class Consistency {
  public static final Consistency LOCAL = new Consistency(0, false);
  public static final Consistency LINEARIZABLE = new Consistency(0, true);

  private final long revision;
  private final boolean linearizable;

  private Consistency(long revision, boolean linearizable) {
    this.revision = revision;
    this.linearizable = linearizable;
  }

  /** The local mirror once it has applied {@code revision} (a value a write returned). */
  public static Consistency atLeast(long revision) {
    if (revision < 0) {
      throw new IllegalArgumentException("revision must not be negative, was " + revision);
    }
    return new Consistency(revision, false);
  }

  public long revision() {
    return revision;
  }

  public boolean linearizable() {
    return linearizable;
  }

  @Override
  public String toString() {
    return linearizable ? "LINEARIZABLE" : revision == 0 ? "LOCAL" : "atLeast(" + revision + ")";
  }
}
