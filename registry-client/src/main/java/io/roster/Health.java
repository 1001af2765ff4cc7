package io.roster;

import java.util.List;

/**
 * What a node can tell about itself without asking anyone: {@link RegistryNode#health()}.
 *
 * <p>{@code live} is false when the node must be restarted: it is closed, or it is a client node
 * whose session expired (a voter whose session expired is live but not ready while it rejoins as a
 * new incarnation). A replica that stopped serving because its store is corrupt or diverged is live
 * but not ready: a restart does not mend it, the member is to be replaced. {@code ready} is true
 * when it is live and, in every group it is in, a leader is known and one heard this node within two
 * heartbeat periods, its session there is open, and, on a voter, its replica applied what it knows
 * committed within {@value #APPLY_LAG_MAX} entries. {@code reasons} says, one line each, what
 * makes it not live or not ready; it is empty when the node is ready.
 */
public record Health(boolean live, boolean ready, List<String> reasons) {
  /** The most entries a voter's replica may have committed but not applied and still be ready. */
  public static final long APPLY_LAG_MAX = 10_000;

  public Health {
    reasons = List.copyOf(reasons);
    if (ready && !live) {
      throw new IllegalArgumentException("a node that is not live is not ready");
    }
    if (ready != reasons.isEmpty()) {
      throw new IllegalArgumentException("a node is ready exactly when nothing keeps it from being so");
    }
  }
}
