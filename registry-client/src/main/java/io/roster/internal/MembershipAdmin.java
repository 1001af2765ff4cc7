package io.roster.internal;

import io.roster.RosterException;
import io.roster.Tls;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.grpc.GrpcTlsConfig;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.protocol.exceptions.AlreadyExistsException;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.util.TimeDuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Membership change for the cluster's group and every partition group, through Ratis' admin service
 * (an {@code admin} certificate). See {@link io.roster.Membership}.
 */
public final class MembershipAdmin implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MembershipAdmin.class);
  private static final long ATTEMPT_MILLIS = 10_000;
  private static final int ATTEMPTS = 30;

  private final RaftGroupId clusterGroup;
  private final Tls tls;
  /** The voters the admin starts from: any one that answers tells the groups and their configurations. */
  private final Map<String, String> seeds;

  public MembershipAdmin(String cluster, Map<String, String> voters, Tls tls) {
    if (voters.isEmpty()) {
      throw new IllegalArgumentException("at least one voter is needed to reach the cluster");
    }
    this.clusterGroup = RatisWiring.groupId(cluster);
    this.seeds = Map.copyOf(voters);
    this.tls = tls;
  }

  /** The cluster group's voters now (id → address), as its leader's configuration says. */
  public Map<String, String> voters() {
    Map<String, String> out = new java.util.TreeMap<>();
    for (RaftPeer p : info(clusterGroup).getGroup().getPeers()) {
      out.put(p.getId().toString(), p.getAddress());
    }
    return out;
  }

  /**
   * Adds voter {@code id} at {@code address} to the cluster's group and then to every partition
   * group. The node must run already (started with the voters list that names it): each group is
   * first added to its server, then Ratis stages it (it receives the log, or a snapshot, without a
   * vote) until it has caught up, and only then commits the configuration that makes it a voter.
   */
  public void addVoter(String id, String address) {
    RaftPeer added = RaftPeer.newBuilder().setId(id).setAddress(address).build();
    for (RaftGroupId g : groups()) {
      RaftGroup now = info(g).getGroup();
      if (now.getPeer(added.getId()) != null) {
        continue; // added before (a retried call)
      }
      List<RaftPeer> next = new ArrayList<>(now.getPeers());
      next.add(added);
      try (RaftClient c = client(RaftGroup.valueOf(g, next))) {
        try {
          RaftClientReply hosted = c.getGroupManagementApi(added.getId()).add(RaftGroup.valueOf(g, next));
          check(hosted, "group " + g + " on " + id);
        } catch (AlreadyExistsException | RosterException alreadyHosted) {
          LOG.debug("{} hosts {} already: {}", id, g, alreadyHosted.getMessage());
        }
        change(c, g, now.getPeers(), next, "add " + id);
      } catch (IOException e) {
        throw new RosterException("adding voter " + id + " to group " + g + " failed: " + e.getMessage(), e);
      }
    }
  }

  /** Removes voter {@code id} from every partition group, then from the cluster's group. Stop the node after. */
  public void removeVoter(String id) {
    RaftPeerId removed = RaftPeerId.valueOf(id);
    List<RaftGroupId> groups = groups();
    java.util.Collections.reverse(groups); // the cluster's group last
    for (RaftGroupId g : groups) {
      RaftGroup now = info(g).getGroup();
      if (now.getPeer(removed) == null) {
        continue;
      }
      List<RaftPeer> next = now.getPeers().stream().filter(p -> !p.getId().equals(removed)).toList();
      if (next.isEmpty()) {
        throw new IllegalArgumentException("voter " + id + " is the last of group " + g + ": it cannot be removed");
      }
      try (RaftClient c = client(now)) {
        change(c, g, now.getPeers(), next, "remove " + id);
      } catch (IOException e) {
        throw new RosterException("removing voter " + id + " from group " + g + " failed: " + e.getMessage(), e);
      }
    }
  }

  /** Hands the cluster group's leadership to voter {@code id}. */
  public void transferLeadership(String id) {
    RaftGroup now = info(clusterGroup).getGroup();
    if (now.getPeer(RaftPeerId.valueOf(id)) == null) {
      throw new IllegalArgumentException("voter " + id + " is not in the cluster's group " + now.getPeers());
    }
    try (RaftClient c = client(now)) {
      check(c.admin().transferLeadership(RaftPeerId.valueOf(id), ATTEMPT_MILLIS), "leadership to " + id);
    } catch (IOException e) {
      throw new RosterException("transferring leadership to " + id + " failed: " + e.getMessage(), e);
    }
  }

  /** Sets {@code next} as group {@code g}'s voters if they are still {@code current} (compare and set). */
  private static void change(RaftClient c, RaftGroupId g, java.util.Collection<RaftPeer> current, List<RaftPeer> next,
      String what) throws IOException {
    RaftClientReply reply = c.admin().setConfiguration(SetConfigurationRequest.Arguments.newBuilder()
        .setServersInCurrentConf(List.copyOf(current)).setServersInNewConf(next)
        .setMode(SetConfigurationRequest.Mode.COMPARE_AND_SET).build());
    check(reply, what + " in group " + g);
    LOG.info("group {}: {} done; voters now {}", g, what, next.stream().map(p -> p.getId().toString()).toList());
  }

  private static void check(RaftClientReply reply, String what) {
    if (!reply.isSuccess()) {
      throw new RosterException(what + " failed: " + reply.getException(), reply.getException());
    }
  }

  /** The cluster's group first, then the partition groups, as a voter that answers lists them. */
  private List<RaftGroupId> groups() {
    List<RaftGroupId> out = new ArrayList<>();
    out.add(clusterGroup);
    Exception last = null;
    for (Map.Entry<String, String> seed : seeds.entrySet()) {
      try (RaftClient c = client(seedGroup())) {
        for (RaftGroupId g : c.getGroupManagementApi(RaftPeerId.valueOf(seed.getKey())).list().getGroupIds()) {
          if (!g.equals(clusterGroup)) {
            out.add(g);
          }
        }
        return out;
      } catch (IOException | RuntimeException e) { // a seed that is down: the next one
        last = e;
      }
    }
    throw new RosterException("no voter of " + seeds.keySet() + " lists its groups: " + last, last);
  }

  private GroupInfoReply info(RaftGroupId g) {
    Exception last = null;
    for (String seed : seeds.keySet()) {
      try (RaftClient c = client(seedGroup())) {
        GroupInfoReply reply = c.getGroupManagementApi(RaftPeerId.valueOf(seed)).info(g);
        if (reply.isSuccess()) {
          return reply;
        }
      } catch (IOException | RuntimeException e) { // a seed that is down: the next one
        last = e;
      }
    }
    throw new RosterException("no voter of " + seeds.keySet() + " describes group " + g + ": " + last, last);
  }

  private RaftGroup seedGroup() {
    Map<String, String> sorted = new LinkedHashMap<>(seeds);
    return RaftGroup.valueOf(clusterGroup, sorted.entrySet().stream()
        .map(e -> RaftPeer.newBuilder().setId(e.getKey()).setAddress(e.getValue()).build()).toList());
  }

  private RaftClient client(RaftGroup group) {
    RaftProperties p = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(ATTEMPT_MILLIS, TimeUnit.MILLISECONDS));
    Parameters parameters = new Parameters();
    if (tls != null) {
      GrpcConfigKeys.TLS.setConf(parameters, new GrpcTlsConfig(tls.keyManager(), tls.trustManager(), true));
    }
    return RaftClient.newBuilder().setClientId(ClientId.randomId()).setProperties(p).setParameters(parameters)
        .setRaftGroup(group)
        .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(ATTEMPTS,
            TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)))
        .build();
  }

  @Override
  public void close() {
    // clients are made per call and closed by it
  }
}
