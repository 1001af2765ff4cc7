package io.roster;

import io.roster.schema.Limits;
import java.util.Objects;

/**
 * The identity of a process in a Roster cluster: the node that runs it, that node's incarnation
 * (a new one at every start of the node), and a serial unique within the incarnation.
 *
 * <p>Immutable and thread-safe. Two pids are equal when all three parts are equal; a pid is never
 * reused, because a restarted node has a new incarnation.
 */
public final class Pid {
  /** The longest node id, in UTF-8 bytes. */
  public static final int NODE_ID_BYTES_MAX = 128;

  private final String nodeId;
  private final long incarnation;
  private final long serial;

  private Pid(String nodeId, long incarnation, long serial) {
    this.nodeId = nodeId;
    this.incarnation = incarnation;
    this.serial = serial;
  }

  /**
   * Creates a pid.
   *
   * @throws IllegalArgumentException if {@code nodeId} is empty or longer than {@link #NODE_ID_BYTES_MAX}
   *     UTF-8 bytes, or {@code incarnation} or {@code serial} is not positive
   * @throws NullPointerException if {@code nodeId} is null
   */
  public static Pid of(String nodeId, long incarnation, long serial) {
    Objects.requireNonNull(nodeId, "nodeId");
    String problem = problem(nodeId, incarnation, serial);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
    return new Pid(nodeId, incarnation, serial);
  }

  /** Returns why these parts do not form a valid pid, or null if they do. */
  public static String problem(String nodeId, long incarnation, long serial) {
    int bytes = Limits.utf8Length(nodeId);
    if (bytes == 0 || bytes > NODE_ID_BYTES_MAX) {
      return "node id must be 1.." + NODE_ID_BYTES_MAX + " UTF-8 bytes, was " + bytes;
    }
    if (incarnation <= 0) {
      return "incarnation must be positive, was " + incarnation;
    }
    if (serial <= 0) {
      return "serial must be positive, was " + serial;
    }
    return null;
  }

  public String nodeId() {
    return nodeId;
  }

  public long incarnation() {
    return incarnation;
  }

  public long serial() {
    return serial;
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Pid)) {
      return false;
    }
    Pid other = (Pid) o;
    return serial == other.serial && incarnation == other.incarnation && nodeId.equals(other.nodeId);
  }

  @Override
  public int hashCode() {
    int h = nodeId.hashCode();
    h = 31 * h + Long.hashCode(incarnation);
    return 31 * h + Long.hashCode(serial);
  }

  /** {@code <nodeId.incarnation.serial>}, like an Erlang pid. */
  @Override
  public String toString() {
    return "<" + nodeId + "." + incarnation + "." + serial + ">";
  }
}
