package io.roster.internal.admin;

import io.roster.RosterException;
import io.roster.Tls;
import io.roster.internal.transport.RaftAccess;
import io.roster.internal.transport.RatisWiring;
import java.io.IOException;
import java.util.ArrayList;
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

  private final String cluster;
  private final RaftGroupId clusterGroup;
  private final Tls tls;
  /** The voters the admin starts from: any one that answers tells the groups and their configurations. */
  private final Map<String, String> seeds;

  public MembershipAdmin(String cluster, Map<String, String> voters, Tls tls) {
    if (voters.isEmpty()) {
      throw new IllegalArgumentException("at least one voter is needed to reach the cluster");
    }
    this.cluster = cluster;
    this.clusterGroup = RatisWiring.groupId(cluster);
    this.seeds = new java.util.concurrent.ConcurrentHashMap<>(voters);
    this.tls = tls;
  }

  /** The cluster's group. */
  RaftGroupId clusterGroup() {
    return clusterGroup;
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
        awaitHosted(c, added.getId(), g);
        change(c, g, now.getPeers(), next, "add " + id);
      } catch (IOException e) {
        throw new RosterException("adding voter " + id + " to group " + g + " failed: " + e.getMessage(), e);
      }
    }
  }

  /**
   * Waits until the new voter's server hosts group {@code g}: a Roster node hosts the cluster's group
   * from its start and each partition group once its mirror of the cluster's group shows the
   * registry. (Adding the group to it from here could race with that, and Ratis 3.3 closes a group
   * that a second add finds already there.)
   */
  private static void awaitHosted(RaftClient c, RaftPeerId peer, RaftGroupId g) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ATTEMPT_MILLIS * 6);
    while (true) {
      try {
        if (c.getGroupManagementApi(peer).list().getGroupIds().contains(g)) {
          return;
        }
      } catch (IOException | RuntimeException notYet) {
        LOG.debug("{} does not answer yet: {}", peer, notYet.toString());
      }
      if (System.nanoTime() > deadline) {
        throw new RosterException(peer + " does not host group " + g + " after " + ATTEMPT_MILLIS * 6 / 1000 + " s: "
            + "is it running, as a voter, with the voters list that names it?");
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RosterException("interrupted", e);
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

  /**
   * Every group as its leader describes it, and each of its voters as it describes itself: the
   * cluster's group first. A voter that does not answer within a short bound is reported unreachable
   * with what the leader knows of it, in every group, and asked only once.
   */
  public io.roster.ClusterStatus status() {
    List<io.roster.ClusterStatus.Group> out = new ArrayList<>();
    List<RaftGroupId> groups = groups(); // fails when the cluster's group has no leader
    Map<String, String> names = groupNames();
    java.util.Set<RaftPeerId> silent = new java.util.HashSet<>(); // asked once per call, not once per group
    for (RaftGroupId g : groups) {
      GroupInfoReply leader;
      try {
        leader = info(g);
      } catch (RosterException noLeader) {
        out.add(new io.roster.ClusterStatus.Group(g.getUuid().toString(), names.get(g.getUuid().toString()),
            g.equals(clusterGroup), null, -1, -1, List.of()));
        continue;
      }
      long commit = leader.getLogInfoProto().getCommitted().getIndex();
      java.util.Map<String, Long> known = new java.util.HashMap<>();
      leader.getCommitInfos().forEach(c -> known.put(c.getServer().getId().toStringUtf8(), c.getCommitIndex()));
      java.util.Map<String, Long> contact = new java.util.HashMap<>();
      leader.getRoleInfoProto().getLeaderInfo().getFollowerInfoList()
          .forEach(f -> contact.put(f.getId().getId().toStringUtf8(), f.getLastRpcElapsedTimeMs()));
      String leaderId = leader.getRoleInfoProto().getSelf().getId().toStringUtf8();
      List<io.roster.ClusterStatus.Member> members = new ArrayList<>();
      for (RaftPeer p : leader.getGroup().getPeers()) {
        String id = p.getId().toString();
        long lastContact = id.equals(leaderId) ? 0 : contact.getOrDefault(id, -1L);
        GroupInfoReply own = id.equals(leaderId) ? leader : silent.contains(p.getId()) ? null : memberInfo(p, g);
        if (own == null) {
          silent.add(p.getId());
        }
        if (own == null) {
          long c = known.getOrDefault(id, -1L);
          members.add(new io.roster.ClusterStatus.Member(id, p.getAddress(), false, "UNREACHABLE", c, -1,
              Math.max(0, commit - Math.max(c, 0)), lastContact));
        } else {
          long applied = own.getLogInfoProto().getApplied().getIndex();
          members.add(new io.roster.ClusterStatus.Member(id, p.getAddress(), true,
              own.getRoleInfoProto().getRole().name(), own.getLogInfoProto().getCommitted().getIndex(), applied,
              Math.max(0, commit - applied), lastContact));
        }
      }
      members.sort(java.util.Comparator.comparing(io.roster.ClusterStatus.Member::nodeId));
      out.add(new io.roster.ClusterStatus.Group(g.getUuid().toString(), names.get(g.getUuid().toString()),
          g.equals(clusterGroup), leaderId,
          leader.getRoleInfoProto().getLeaderInfo().getTerm(), commit, members));
    }
    return new io.roster.ClusterStatus(out);
  }

  /**
   * Each group's label by its id ({@code cluster}, {@code registry#partition}), from the cluster
   * group's state; without a leader of that group, only the cluster's own.
   */
  private Map<String, String> groupNames() {
    try {
      try (ClusterReads reads = new ClusterReads(cluster, this)) {
        return reads.groupNames();
      }
    } catch (RosterException noLeader) {
      LOG.debug("partition groups unnamed: {}", noLeader.toString());
      return Map.of(clusterGroup.getUuid().toString(), "cluster");
    }
  }

  /** Group {@code g} as voter {@code p} describes it, or null if it does not answer within a few seconds. */
  private GroupInfoReply memberInfo(RaftPeer p, RaftGroupId g) {
    try (RaftClient c = client(RaftGroup.valueOf(clusterGroup, p), MEMBER_INFO_MILLIS, 1)) {
      GroupInfoReply reply = c.getGroupManagementApi(p.getId()).info(g);
      return reply.isSuccess() ? reply : null;
    } catch (IOException | RuntimeException e) {
      refusedOrNot(e, "voter " + p.getId());
      LOG.debug("{} does not answer: {}", p.getId(), e.toString());
      return null;
    }
  }

  /** How long a member is given to describe itself in {@link #status()}. */
  private static final long MEMBER_INFO_MILLIS = 3_000;

  /** The cluster's group first, then the partition groups, as the cluster group's leader lists them. */
  private List<RaftGroupId> groups() {
    String leader = info(clusterGroup).getRoleInfoProto().getSelf().getId().toStringUtf8();
    List<RaftGroupId> out = new ArrayList<>();
    out.add(clusterGroup);
    try (RaftClient c = client(seedGroup())) {
      for (RaftGroupId g : c.getGroupManagementApi(RaftPeerId.valueOf(leader)).list().getGroupIds()) {
        if (!g.equals(clusterGroup)) {
          out.add(g);
        }
      }
      return out;
    } catch (IOException | RuntimeException e) {
      throw new RosterException("the leader " + leader + " does not list its groups: " + e, e);
    }
  }

  /**
   * Group {@code g} as its leader describes it. Only the leader's word counts: a node that is not
   * (yet) a member describes the group with the configuration it was started with. Voters met on the
   * way (a leader added since the admin's voters list was written) are asked too.
   */
  GroupInfoReply info(RaftGroupId g) {
    Exception last = null;
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ATTEMPT_MILLIS * 3);
    while (System.nanoTime() < deadline) {
      for (String peer : List.copyOf(seeds.keySet())) {
        try (RaftClient c = client(seedGroup())) {
          GroupInfoReply reply = c.getGroupManagementApi(RaftPeerId.valueOf(peer)).info(g);
          if (!reply.isSuccess()) {
            continue;
          }
          reply.getGroup().getPeers().forEach(p -> seeds.putIfAbsent(p.getId().toString(), p.getAddress()));
          if (reply.getRoleInfoProto().getRole() == org.apache.ratis.proto.RaftProtos.RaftPeerRole.LEADER) {
            return reply;
          }
        } catch (IOException | RuntimeException e) { // a voter that is down: the next one
          refusedOrNot(e, "voter " + peer);
          last = e;
        }
      }
      try {
        Thread.sleep(200); // an election under way
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    throw new RosterException("no leader of group " + g + " among " + seeds.keySet() + " answered"
        + (last == null ? "" : ": " + last), last);
  }

  /** Throws if {@code e} is {@code who}'s refusal of this certificate: no other voter will take it either. */
  static void refusedOrNot(Throwable e, String who) {
    if (RaftAccess.refused(e)) {
      throw new RosterException(who + " refuses this certificate (an admin certificate is needed): "
          + e.getMessage(), e);
    }
  }

  private RaftGroup seedGroup() {
    Map<String, String> sorted = new java.util.TreeMap<>(seeds);
    return RaftGroup.valueOf(clusterGroup, sorted.entrySet().stream()
        .map(e -> RaftPeer.newBuilder().setId(e.getKey()).setAddress(e.getValue()).build()).toList());
  }

  RaftClient client(RaftGroup group) {
    return client(group, ATTEMPT_MILLIS, ATTEMPTS);
  }

  RaftClient client(RaftGroup group, long attemptMillis, int attempts) {
    RaftProperties p = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(attemptMillis, TimeUnit.MILLISECONDS));
    Parameters parameters = new Parameters();
    if (tls != null) {
      GrpcConfigKeys.TLS.setConf(parameters, new GrpcTlsConfig(tls.keyManager(), tls.trustManager(), true));
    }
    return RaftClient.newBuilder().setClientId(ClientId.randomId()).setProperties(p).setParameters(parameters)
        .setRaftGroup(group)
        .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(attempts,
            TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)))
        .build();
  }

  @Override
  public void close() {
    // clients are made per call and closed by it
  }
}
