package io.roster.faults;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The faults the suite injects into a {@link NetCluster}: each starts on a target chosen from the
 * current leader and ends with {@link Injected#heal()}, which restarts from disk what was killed,
 * resumes what was paused and removes what was cut.
 */
enum Nemesis {
  KILL_LEADER(true),
  KILL_FOLLOWER(false),
  PAUSE_LEADER(true),
  PARTITION_LEADER(true),
  ONE_WAY_LEADER(true),
  LOSE_QUORUM(true);

  /** Whether this fault removes the leader, so that writes wait for a new one (its failover is measured). */
  final boolean hitsLeader;

  Nemesis(boolean hitsLeader) {
    this.hitsLeader = hitsLeader;
  }

  /** A fault in force. */
  interface Injected {
    String target();

    void heal();
  }

  Injected inject(NetCluster c, String leader) {
    List<String> ids = c.ids();
    Set<String> others = new LinkedHashSet<>(ids);
    others.remove(leader);
    String follower = others.iterator().next();
    switch (this) {
      case KILL_LEADER:
        c.kill(leader);
        return injected(leader, () -> c.startVoter(leader));
      case KILL_FOLLOWER:
        c.kill(follower);
        return injected(follower, () -> c.startVoter(follower));
      case PAUSE_LEADER:
        c.pause(leader);
        return injected(leader, () -> c.resume(leader));
      case PARTITION_LEADER:
        // the leader is cut from its followers, but the clients still reach it
        c.cut(Set.of(leader), others);
        return injected(leader, c::heal);
      case ONE_WAY_LEADER:
        // what the leader sends to its followers is lost; what they send arrives
        c.drop(leader, others);
        return injected(leader, c::heal);
      case LOSE_QUORUM:
        for (String id : ids) {
          Set<String> rest = new LinkedHashSet<>(ids);
          rest.remove(id);
          c.drop(id, rest);
        }
        return injected("all", c::heal);
      default:
        throw new AssertionError(this);
    }
  }

  private static Injected injected(String target, Runnable heal) {
    return new Injected() {
      @Override
      public String target() {
        return target;
      }

      @Override
      public void heal() {
        heal.run();
      }
    };
  }

  String label() {
    return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }
}
