package io.roster.internal.admin;

import io.roster.ClusterReader;
import io.roster.ConsistencyReport;
import io.roster.RosterException;
import io.roster.internal.transport.Dumps;
import io.roster.internal.transport.RatisWiring;
import io.roster.mirror.Mirror;
import io.roster.proto.Barrier;
import io.roster.proto.Lookup;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.Registries;
import io.roster.proto.RegistrySummary;
import io.roster.proto.Status;
import io.roster.schema.Codec;
import io.roster.schema.Records;
import io.roster.schema.Registration;
import io.roster.schema.RegistryDescriptor;
import io.roster.schema.Session;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * The admin's reads of a cluster's state (see {@link ClusterReader}), through an admin
 * certificate: registries and counts through a linearizable query answered from the leader's
 * mirror; a group's whole state (for listings) after a linearizable barrier, from any voter that has
 * applied it, followers first, so that the leader's apply thread is not the one copying it; keys
 * looked up through linearizable reads. The change stream is {@link ClusterWatch}'s, digest checks
 * {@link ClusterCheck}'s; both use this object's groups and clients. One Ratis client per group,
 * closed with this object.
 */
public final class ClusterReads implements AutoCloseable {
  private final String cluster;
  private final MembershipAdmin admin;
  private final Map<RaftGroupId, RaftClient> clients = new ConcurrentHashMap<>();
  private volatile boolean closed;

  public ClusterReads(String cluster, MembershipAdmin admin) {
    this.cluster = cluster;
    this.admin = admin;
  }

  /** One Raft group holding a registry's entries: the cluster's group, or one partition's. */
  record Place(String label, RaftGroupId group, int partition) {}

  /** The registries the cluster's group describes, with their registrations counted in every partition. */
  public List<ClusterReader.RegistryInfo> registries() {
    List<ClusterReader.RegistryInfo> out = new ArrayList<>();
    for (RegistrySummary s : summaries(admin.clusterGroup())) {
      RegistryDescriptor d = Records.descriptor(s.getName(), s.getRecord());
      long count = 0;
      for (Place p : places(d)) {
        if (p.partition < 0) {
          count += s.getRegistrations();
        } else {
          count += summaries(p.group).stream().filter(x -> x.getName().equals(d.name()))
              .mapToLong(RegistrySummary::getRegistrations).sum();
        }
      }
      out.add(new ClusterReader.RegistryInfo(d.name(), d.mode().name(), Math.max(1, d.partitions()), count,
          d.revision()));
    }
    out.sort(Comparator.comparing(ClusterReader.RegistryInfo::name));
    return out;
  }

  /** The registrations of {@code key}, read linearizably in every group that may hold it. */
  public List<ClusterReader.Entry> get(String registry, String key) {
    List<ClusterReader.Entry> out = new ArrayList<>();
    for (Place p : places(descriptor(registry))) {
      QueryResult r = linearizable(p.group, Query.newBuilder()
          .setLookup(Lookup.newBuilder().setRegistry(registry).setKey(key)).build());
      for (io.roster.proto.Entry e : r.getEntriesList()) {
        out.add(new ClusterReader.Entry(key, Codec.fromProto(e.getPid()).toString(),
            e.hasValue() ? e.getValue().toByteArray() : null, e.getRevision(), p.partition));
      }
    }
    out.sort(Comparator.comparingLong(ClusterReader.Entry::revision));
    return out;
  }

  private static final Comparator<Registration> KEY_ORDER = Comparator.comparing(Registration::key)
      .thenComparingLong(Registration::revision);

  /**
   * The registrations whose key starts with {@code prefix}, in key order (then revision), at most
   * {@code limit}; {@code total} counts every match. Holds at most {@code limit} of them at a time.
   */
  public ClusterReader.Listing list(String registry, String prefix, int limit) {
    if (limit < 1) {
      throw new IllegalArgumentException("the limit must be at least 1: " + limit);
    }
    PriorityQueue<Registration> kept = new PriorityQueue<>(KEY_ORDER.reversed()); // the largest on top
    Map<Registration, Integer> partitionOf = new java.util.IdentityHashMap<>();
    int total = 0;
    for (Place p : places(descriptor(registry))) {
      Mirror.RegistryState s = load(p.group).registryState(registry);
      if (s == null) {
        continue;
      }
      List<Registration> matches = new ArrayList<>();
      s.forEach(r -> {
        if (r.key().startsWith(prefix)) {
          matches.add(r);
        }
      });
      total += matches.size();
      for (Registration r : matches) {
        if (kept.size() < limit) {
          kept.add(r);
          partitionOf.put(r, p.partition);
        } else if (KEY_ORDER.compare(r, kept.peek()) < 0) {
          partitionOf.remove(kept.poll());
          kept.add(r);
          partitionOf.put(r, p.partition);
        }
      }
    }
    List<Registration> sorted = new ArrayList<>(kept);
    sorted.sort(KEY_ORDER);
    return new ClusterReader.Listing(sorted.stream().map(r -> entry(r, partitionOf.get(r))).toList(), total);
  }

  /** Every open session of every group: the cluster's, then each partition's. */
  public List<ClusterReader.SessionInfo> sessions() {
    List<ClusterReader.SessionInfo> out = new ArrayList<>();
    add(out, "cluster", load(admin.clusterGroup()));
    for (RegistrySummary s : summaries(admin.clusterGroup())) {
      for (Place p : places(Records.descriptor(s.getName(), s.getRecord()))) {
        if (p.partition >= 0) {
          add(out, p.label, load(p.group));
        }
      }
    }
    return out;
  }

  private static void add(List<ClusterReader.SessionInfo> out, String group, Mirror m) {
    m.openSessions().stream().sorted(Comparator.comparing(Session::nodeId)).forEach(s -> out.add(
        new ClusterReader.SessionInfo(group, s.nodeId(), s.incarnation(), s.timeoutMillis(), s.address(),
            s.revision())));
  }

  /** Group labels by group id (the UUID): {@code cluster}, or {@code registry#partition}. */
  public Map<String, String> groupNames() {
    Map<String, String> out = new LinkedHashMap<>();
    out.put(admin.clusterGroup().getUuid().toString(), "cluster");
    for (RegistrySummary s : summaries(admin.clusterGroup())) {
      for (Place p : places(Records.descriptor(s.getName(), s.getRecord()))) {
        if (p.partition >= 0) {
          out.put(p.group.getUuid().toString(), p.label);
        }
      }
    }
    return out;
  }

  /**
   * Follows {@code registry}'s changes (of one partition, or all when {@code partition} is -1)
   * from {@code fromRevision} (0: from now) until the calling thread is interrupted: see {@link
   * ClusterWatch}.
   */
  public void watch(String registry, int partition, long fromRevision, Consumer<ClusterReader.Event> each,
      Consumer<String> notices) throws InterruptedException {
    new ClusterWatch(this).watch(registry, partition, fromRevision, each, notices);
  }

  /**
   * Proposes a digest check in every group and compares the digest each voter computed at its
   * entry, the cluster's group first: see {@link ClusterCheck}.
   */
  public List<ConsistencyReport> check(Consumer<String> progress) {
    return new ClusterCheck(this, admin).check(progress);
  }

  private static ClusterReader.Entry entry(Registration r, int partition) {
    return new ClusterReader.Entry(r.key(), r.pid().toString(), r.hasValue() ? r.valueUnsafe().clone() : null,
        r.revision(), partition);
  }

  /** Group {@code g}'s registries and their registrations, read linearizably (no copy of its state). */
  private List<RegistrySummary> summaries(RaftGroupId g) {
    QueryResult r = linearizable(g, Query.newBuilder().setRegistries(Registries.getDefaultInstance()).build());
    return r.getRegistriesList();
  }

  /** The registry as the cluster's group describes it, read linearizably. */
  RegistryDescriptor descriptor(String registry) {
    for (RegistrySummary s : summaries(admin.clusterGroup())) {
      if (s.getName().equals(registry)) {
        return Records.descriptor(s.getName(), s.getRecord());
      }
    }
    throw new IllegalArgumentException("no registry '" + registry + "' in cluster '" + cluster + "'");
  }

  /** The groups that hold {@code d}'s entries: the cluster's (partition -1), or each partition's. */
  List<Place> places(RegistryDescriptor d) {
    if (d.partitions() <= 1) {
      return List.of(new Place("cluster", admin.clusterGroup(), -1));
    }
    List<Place> out = new ArrayList<>();
    for (int i = 0; i < d.partitions(); i++) {
      out.add(new Place(d.name() + "#" + i, RatisWiring.partitionGroupId(cluster, d.name(), i), i));
    }
    return out;
  }

  /** Group {@code g}'s voters, followers first (its leader last), as its leader's configuration lists them. */
  List<RaftPeerId> voters(RaftGroupId g) {
    GroupInfoReply info = admin.info(g);
    RaftPeerId leader = RaftPeerId.valueOf(info.getRoleInfoProto().getSelf().getId());
    List<RaftPeerId> out = new ArrayList<>(info.getGroup().getPeers().stream().map(RaftPeer::getId)
        .filter(id -> !id.equals(leader)).toList());
    out.add(leader);
    return out;
  }

  /**
   * Group {@code g}'s whole state, holding every write acknowledged before the call: a barrier
   * through the leader, then a dump from the first voter (followers first) that has applied it.
   */
  private Mirror load(RaftGroupId g) {
    long barrier = linearizable(g, Query.newBuilder().setBarrier(Barrier.getDefaultInstance()).build())
        .getAppliedIndex();
    Exception last = null;
    for (RaftPeerId peer : voters(g)) {
      try {
        return Dumps.load(client(g), peer, barrier, () -> { });
      } catch (Exception e) {
        MembershipAdmin.refusedOrNot(e, peer.toString());
        last = e; // down, behind or busy: the next voter
      }
    }
    throw new RosterException("no voter of group " + g + " served its state at index " + barrier + ": " + last, last);
  }

  /** {@code q} answered after a linearizable barrier (Ratis' ReadIndex) by group {@code g}'s leader. */
  QueryResult linearizable(RaftGroupId g, Query q) {
    try {
      RaftClientReply reply = client(g).io().sendReadOnly(
          Message.valueOf(UnsafeByteOperations.unsafeWrap(q.toByteArray())));
      if (!reply.isSuccess()) {
        throw new RosterException("group " + g + " did not answer: " + reply.getException(), reply.getException());
      }
      QueryResult r = QueryResult.parseFrom(reply.getMessage().getContent().toByteArray());
      if (r.getStatus() == Status.UNKNOWN_COMMAND) {
        throw new RosterException("group " + g + " does not know this query (a voter of an older version?): "
            + r.getDetail());
      }
      if (r.getStatus() != Status.OK) {
        throw new RosterException("group " + g + " refused the read: " + r.getStatus() + " " + r.getDetail());
      }
      return r;
    } catch (IOException e) {
      MembershipAdmin.refusedOrNot(e, "the leader of group " + g);
      throw new RosterException("reading group " + g + " failed: " + e.getMessage(), e);
    }
  }

  /** This reader's client of group {@code g}, made at first use with the voters its leader names. */
  RaftClient client(RaftGroupId g) {
    if (closed) {
      throw new IllegalStateException("this reader is closed");
    }
    return clients.computeIfAbsent(g, id -> admin.client(admin.info(id).getGroup()));
  }

  @Override
  public void close() {
    closed = true;
    for (RaftClient c : clients.values()) {
      try {
        c.close();
      } catch (IOException e) {
        // closing: nothing to do
      }
    }
    clients.clear();
  }
}
