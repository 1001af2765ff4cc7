package io.roster.ratis;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.proto.RaftProtos.ServerRpcProto;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;

/**
 * How long ago a leader last heard from a majority of its voters (in every configuration of a
 * change under way): the basis of session self-fencing.
 *
 * <p>No other leader can begin a term sooner than the minimum election timeout after the majority
 * last heard this one: a voter that heard a leader within that time votes for no other candidate
 * (Ratis' pre-vote and its leader stickiness), and any new majority holds one of those voters. So a
 * leader that answers a heartbeat sent at time s, with a majority contact {@code age} old, proves
 * that no later leader began before s − max(0, age + margin − minimum election timeout), the margin
 * covering the answers' way back. A node that counts its session as heard at that time expires it
 * in its own eyes no later than any leader can (see {@code SessionKeeper}).
 */
public final class LeaderContact {
  private LeaderContact() {}

  /**
   * The age in milliseconds of {@code division}'s latest contact with a majority, while it is the
   * ready leader; empty otherwise (and on any doubt).
   */
  public static OptionalLong ageMillis(RaftServer.Division division) {
    try {
      if (!division.getInfo().isLeaderReady()) {
        return OptionalLong.empty();
      }
      RoleInfoProto role = division.getInfo().getRoleInfoProto();
      if (role.getRole() != RaftPeerRole.LEADER) {
        return OptionalLong.empty();
      }
      Map<RaftPeerId, Long> elapsed = new HashMap<>();
      for (ServerRpcProto f : role.getLeaderInfo().getFollowerInfoList()) {
        elapsed.put(RaftPeerId.valueOf(f.getId().getId()), f.getLastRpcElapsedTimeMs());
      }
      elapsed.put(division.getId(), 0L);
      RaftConfiguration conf = division.getRaftConf();
      long age = majorityAge(conf.getCurrentPeers(), elapsed);
      if (!conf.getPreviousPeers().isEmpty()) {
        age = Math.max(age, majorityAge(conf.getPreviousPeers(), elapsed));
      }
      return age == Long.MAX_VALUE ? OptionalLong.empty() : OptionalLong.of(age);
    } catch (RuntimeException e) {
      return OptionalLong.empty(); // the division is closing, say
    }
  }

  /** The minimum election timeout of {@code server}, in milliseconds. */
  public static long electionTimeoutMinMillis(RaftServer server) {
    return RaftServerConfigKeys.Rpc.timeoutMin(server.getProperties()).toLong(TimeUnit.MILLISECONDS);
  }

  /** The smallest age within which a majority of {@code voters} answered. */
  static long majorityAge(Collection<RaftPeer> voters, Map<RaftPeerId, Long> elapsed) {
    List<Long> ages = new ArrayList<>();
    for (RaftPeer p : voters) {
      ages.add(elapsed.getOrDefault(p.getId(), Long.MAX_VALUE));
    }
    ages.sort(null);
    return ages.isEmpty() ? Long.MAX_VALUE : ages.get(ages.size() / 2);
  }
}
