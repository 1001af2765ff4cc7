package io.roster.internal.admin;

import io.roster.ClusterReader;
import io.roster.ConsistencyReport;
import io.roster.RosterException;
import io.roster.internal.read.Dumps;
import io.roster.internal.transport.RatisWiring;
import io.roster.mirror.Mirror;
import io.roster.proto.Barrier;
import io.roster.proto.BatchResult;
import io.roster.proto.ChangeEntry;
import io.roster.proto.ChangeProto;
import io.roster.proto.Changes;
import io.roster.proto.DigestAt;
import io.roster.proto.Lookup;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.RegistrationChange;
import io.roster.proto.Status;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import io.roster.schema.Registration;
import io.roster.schema.RegistryDescriptor;
import io.roster.schema.Revisions;
import io.roster.schema.Session;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * The admin's reads of a cluster's state (see {@link ClusterReader}): each group's state loaded
 * from its leader after a linearizable barrier, keys looked up through linearizable reads, the
 * change stream followed from any voter, and digest checks proposed and compared, all through an
 * admin certificate.
 */
public final class ClusterReads {
  /** How long a digest check waits for every voter's digest. */
  private static final long DIGEST_MILLIS = 30_000;
  /** How long a voter holds a poll for changes when it has none. */
  private static final int WAIT_MILLIS = 500;
  private static final long RETRY_MILLIS = 200;

  private final String cluster;
  private final MembershipAdmin admin;

  public ClusterReads(String cluster, MembershipAdmin admin) {
    this.cluster = cluster;
    this.admin = admin;
  }

  /** One Raft group holding a registry's entries: the cluster's group, or one partition's. */
  private record Place(String label, RaftGroupId group, int partition) {}

  /** The registries the cluster's group describes, with their registrations counted in every partition. */
  public List<ClusterReader.RegistryInfo> registries() {
    Mirror main = load(admin.clusterGroup());
    List<ClusterReader.RegistryInfo> out = new ArrayList<>();
    for (RegistryDescriptor d : main.registries()) {
      long count = 0;
      for (Place p : places(d)) {
        Mirror m = p.partition < 0 ? main : load(p.group);
        Mirror.RegistryState s = m.registryState(d.name());
        count += s == null ? 0 : s.size();
      }
      out.add(new ClusterReader.RegistryInfo(d.name(), d.mode().name(), Math.max(1, d.partitions()), count,
          d.revision()));
    }
    out.sort(java.util.Comparator.comparing(ClusterReader.RegistryInfo::name));
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
    out.sort(java.util.Comparator.comparingLong(ClusterReader.Entry::revision));
    return out;
  }

  /**
   * The registrations whose key starts with {@code prefix}, in key order (then revision), at most
   * {@code limit}; {@code total} counts every match.
   */
  public ClusterReader.Listing list(String registry, String prefix, int limit) {
    if (limit < 1) {
      throw new IllegalArgumentException("the limit must be at least 1: " + limit);
    }
    List<ClusterReader.Entry> all = new ArrayList<>();
    for (Place p : places(descriptor(registry))) {
      Mirror.RegistryState s = load(p.group).registryState(registry);
      if (s != null) {
        s.forEach(r -> {
          if (r.key().startsWith(prefix)) {
            all.add(entry(r, p.partition));
          }
        });
      }
    }
    all.sort(java.util.Comparator.comparing(ClusterReader.Entry::key)
        .thenComparingLong(ClusterReader.Entry::revision));
    return new ClusterReader.Listing(List.copyOf(all.subList(0, Math.min(limit, all.size()))), all.size());
  }

  /** Every open session of every group: the cluster's, then each partition's. */
  public List<ClusterReader.SessionInfo> sessions() {
    Mirror main = load(admin.clusterGroup());
    List<ClusterReader.SessionInfo> out = new ArrayList<>();
    add(out, "cluster", main);
    for (RegistryDescriptor d : main.registries()) {
      for (Place p : places(d)) {
        if (p.partition >= 0) {
          add(out, p.label, load(p.group));
        }
      }
    }
    return out;
  }

  private static void add(List<ClusterReader.SessionInfo> out, String group, Mirror m) {
    m.openSessions().stream().sorted(java.util.Comparator.comparing(Session::nodeId)).forEach(s -> out.add(
        new ClusterReader.SessionInfo(group, s.nodeId(), s.incarnation(), s.timeoutMillis(), s.address(),
            s.revision())));
  }

  /** Group labels by group id (the UUID): {@code cluster}, or {@code registry#partition}. */
  public Map<String, String> groupNames() {
    Map<String, String> out = new LinkedHashMap<>();
    out.put(admin.clusterGroup().getUuid().toString(), "cluster");
    for (RegistryDescriptor d : load(admin.clusterGroup()).registries()) {
      for (Place p : places(d)) {
        if (p.partition >= 0) {
          out.put(p.group.getUuid().toString(), p.label);
        }
      }
    }
    return out;
  }

  /**
   * Follows {@code registry}'s changes (of one partition, or all when {@code partition} is -1)
   * from {@code fromRevision} (0: from now) until the calling thread is interrupted; {@code started}
   * is told the revision the watch starts after, once per partition.
   *
   */
  public void watch(String registry, int partition, long fromRevision, Consumer<ClusterReader.Event> each,
      Consumer<String> started) throws InterruptedException {
    if (Thread.currentThread().isInterrupted()) {
      return;
    }
    RegistryDescriptor d = descriptor(registry);
    List<Place> places = places(d);
    if (partition >= 0) {
      if (partition >= places.size() || places.get(0).partition < 0) {
        throw new IllegalArgumentException("registry '" + registry + "' has " + places.size() + " partition(s); "
            + "there is no partition " + partition + (places.get(0).partition < 0 ? " (it is not partitioned)" : ""));
      }
      places = List.of(places.get(partition));
    } else if (fromRevision > 0 && places.size() > 1) {
      throw new IllegalArgumentException("registry '" + registry + "' has " + places.size() + " partitions, each "
          + "with revisions of its own: name the one to resume with --partition");
    }
    List<Thread> followers = new ArrayList<>();
    java.util.concurrent.atomic.AtomicReference<RuntimeException> failed = new java.util.concurrent.atomic.AtomicReference<>();
    java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
    Object order = new Object(); // one event at a time reaches each
    for (Place p : places) {
      Thread t = new Thread(() -> {
        try {
          follow(registry, p, fromRevision, e -> {
            synchronized (order) {
              each.accept(e);
            }
          }, started);
        } catch (InterruptedException stop) {
          // asked to stop
        } catch (RuntimeException e) {
          if (!stopping.get()) { // else an interrupted call's failure
            failed.compareAndSet(null, e);
            followers.forEach(Thread::interrupt);
          }
        }
      }, "roster-watch-" + p.label);
      t.setDaemon(true);
      followers.add(t);
    }
    followers.forEach(Thread::start);
    boolean interrupted = false;
    try {
      for (Thread t : followers) {
        t.join();
      }
    } catch (InterruptedException stop) {
      interrupted = true; // the caller's way to end the watch
    } finally {
      stopping.set(true);
      followers.forEach(Thread::interrupt);
    }
    for (Thread t : followers) {
      try {
        t.join(5_000); // their clients closed before this returns
      } catch (InterruptedException again) {
        interrupted = true;
      }
    }
    if (failed.get() != null) {
      throw failed.get();
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private void follow(String registry, Place p, long fromRevision, Consumer<ClusterReader.Event> each,
      Consumer<String> started) throws InterruptedException {
    GroupInfoReply info = admin.info(p.group);
    List<RaftPeerId> voters = new ArrayList<>(info.getGroup().getPeers().stream().map(RaftPeer::getId).toList());
    int at = voters.indexOf(RaftPeerId.valueOf(info.getRoleInfoProto().getSelf().getId()));
    long after;
    if (fromRevision > 0) {
      after = Revisions.index(fromRevision) - 1;
    } else {
      after = linearizable(p.group, Query.newBuilder().setBarrier(Barrier.getDefaultInstance()).build())
          .getAppliedIndex();
    }
    started.accept(p.label + " after revision " + Revisions.entryEnd(after));
    try (RaftClient c = admin.client(info.getGroup(), WAIT_MILLIS + 2_000L, 1)) {
      while (!Thread.currentThread().isInterrupted()) {
        RaftPeerId peer = voters.get(Math.max(0, at) % voters.size());
        QueryResult r;
        try {
          r = Dumps.query(c, Query.newBuilder().setChanges(Changes.newBuilder().setFromIndex(after)
              .setWaitMillis(WAIT_MILLIS)).build(), peer, 0, () -> { });
        } catch (Exception e) {
          MembershipAdmin.refusedOrNot(e, peer.toString());
          if (Thread.currentThread().isInterrupted() || e instanceof InterruptedException
              || e instanceof java.io.InterruptedIOException) {
            throw new InterruptedException();
          }
          at++; // another voter
          Thread.sleep(RETRY_MILLIS);
          continue;
        }
        if (r.getStatus() == Status.COMPACTED) {
          throw new RosterException(p.label + ": revision " + Math.max(fromRevision, 1) + " is older than the change "
              + "history that " + peer + " keeps (" + r.getDetail() + "): list the registry, then watch from now");
        }
        if (r.getStatus() != Status.OK) {
          throw new RosterException(p.label + ": " + peer + " refused the change stream: " + r.getStatus() + " "
              + r.getDetail());
        }
        for (ChangeEntry e : r.getChangeEntriesList()) {
          for (ChangeProto change : e.getChangesList()) {
            long revision = Revisions.of(e.getIndex(), change.getOrdinal());
            ClusterReader.Event event = event(change, revision, p.partition);
            if (event != null && event.registry().equals(registry) && revision >= fromRevision) {
              each.accept(event);
            }
          }
          after = Math.max(after, e.getIndex());
        }
        after = Math.max(after, r.getAppliedIndex());
      }
    } catch (IOException e) {
      throw new RosterException("closing the change stream of " + p.label + ": " + e.getMessage(), e);
    }
    throw new InterruptedException();
  }

  /** A change of a registry as an event, or null for one that is not a registry's (a session's). */
  static ClusterReader.Event event(ChangeProto c, long revision, int partition) {
    return switch (c.getKindCase()) {
      case REGISTERED -> event("REGISTERED", c.getRegistered(), revision, partition);
      case UNREGISTERED -> event("UNREGISTERED", c.getUnregistered(), revision, partition);
      case VALUE_UPDATED -> event("VALUE_UPDATED", c.getValueUpdated().getAfter(), revision, partition);
      case META_PUT -> new ClusterReader.Event("META_PUT", c.getMetaPut().getRegistry(), partition,
          c.getMetaPut().getKey(), null, c.getMetaPut().getValue().toByteArray(), revision);
      case META_DELETED -> new ClusterReader.Event("META_DELETED", c.getMetaDeleted().getRegistry(), partition,
          c.getMetaDeleted().getKey(), null, null, revision);
      case LOCK_ACQUIRED -> new ClusterReader.Event("LOCK_ACQUIRED", c.getLockAcquired().getRegistry(), partition,
          c.getLockAcquired().getLockKey(), Codec.fromProto(c.getLockAcquired().getRecord().getPid()).toString(), null,
          revision);
      case LOCK_RELEASED -> new ClusterReader.Event("LOCK_RELEASED", c.getLockReleased().getRegistry(), partition,
          c.getLockReleased().getLockKey(), Codec.fromProto(c.getLockReleased().getRecord().getPid()).toString(), null,
          revision);
      case REGISTRY_CREATED -> new ClusterReader.Event("REGISTRY_CREATED", c.getRegistryCreated().getName(), partition,
          "", null, null, revision);
      default -> null;
    };
  }

  private static ClusterReader.Event event(String kind, RegistrationChange r, long revision, int partition) {
    return new ClusterReader.Event(kind, r.getRegistry(), partition, r.getKey(),
        Codec.fromProto(r.getRecord().getPid()).toString(),
        r.getRecord().hasValue() ? r.getRecord().getValue().toByteArray() : null, revision);
  }

  /**
   * Proposes a digest check in every group and compares the digest each voter computed at its
   * entry: the cluster's group first.
   */
  public List<ConsistencyReport> check(Consumer<String> progress) {
    List<ConsistencyReport> out = new ArrayList<>();
    Map<String, String> names = groupNames();
    for (Map.Entry<String, String> g : names.entrySet()) {
      RaftGroupId id = RaftGroupId.valueOf(java.util.UUID.fromString(g.getKey()));
      progress.accept(g.getValue());
      out.add(check(g.getValue(), id));
    }
    return out;
  }

  private ConsistencyReport check(String label, RaftGroupId g) {
    RaftGroup group = admin.info(g).getGroup();
    long index;
    try (RaftClient c = admin.client(group)) {
      RaftClientReply reply = c.io().send(Message.valueOf(UnsafeByteOperations.unsafeWrap(
          Codec.encode(Commands.digestCheck()))));
      if (!reply.isSuccess()) {
        throw new RosterException(label + ": the digest check was not committed: " + reply.getException(),
            reply.getException());
      }
      BatchResult result = BatchResult.parseFrom(reply.getMessage().getContent().toByteArray());
      if (result.getResultsCount() != 1 || result.getResults(0).getStatus() != Status.OK) {
        throw new RosterException(label + ": the digest check was refused: " + result);
      }
      index = reply.getLogIndex();
    } catch (IOException e) {
      throw new RosterException(label + ": the digest check failed: " + e.getMessage(), e);
    }
    Map<String, String> digests = new java.util.TreeMap<>();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DIGEST_MILLIS);
    for (RaftPeer peer : group.getPeers()) {
      String d = digest(group, peer, index, deadline);
      if (d != null) {
        digests.put(peer.getId().toString(), d);
      }
    }
    Map<String, Integer> counts = new java.util.HashMap<>();
    digests.values().forEach(d -> counts.merge(d, 1, Integer::sum));
    String majority = counts.entrySet().stream().filter(e -> e.getValue() > group.getPeers().size() / 2)
        .map(Map.Entry::getKey).findFirst().orElse(null);
    return new ConsistencyReport(label, index, digests, majority, group.getPeers().stream()
        .map(v -> v.getId().toString()).filter(v -> !digests.containsKey(v)).sorted().toList());
  }

  /** {@code peer}'s digest at {@code index}, or null if it has none by the deadline (down, or too far behind). */
  private String digest(RaftGroup group, RaftPeer peer, long index, long deadline) {
    try (RaftClient c = admin.client(group, 5_000, 1)) {
      while (System.nanoTime() < deadline) {
        QueryResult r;
        try {
          r = Dumps.query(c, Query.newBuilder().setDigestAt(DigestAt.newBuilder().setIndex(index)).build(),
              peer.getId(), index, () -> { });
        } catch (Exception e) {
          MembershipAdmin.refusedOrNot(e, peer.getId().toString());
          return null;
        }
        if (r.getStatus() == Status.OK) {
          return r.getDigest();
        }
        if (r.getStatus() != Status.BUSY) {
          return null;
        }
        Thread.sleep(RETRY_MILLIS);
      }
      return null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RosterException("interrupted", e);
    }
  }

  private static ClusterReader.Entry entry(Registration r, int partition) {
    return new ClusterReader.Entry(r.key(), r.pid().toString(), r.hasValue() ? r.valueUnsafe().clone() : null,
        r.revision(), partition);
  }

  /** The registry as the cluster's group describes it, read linearizably. */
  private RegistryDescriptor descriptor(String registry) {
    RegistryDescriptor d = load(admin.clusterGroup()).registry(registry);
    if (d == null) {
      throw new IllegalArgumentException("no registry '" + registry + "' in cluster '" + cluster + "'");
    }
    return d;
  }

  /** The groups that hold {@code d}'s entries: the cluster's (partition -1), or each partition's. */
  private List<Place> places(RegistryDescriptor d) {
    if (d.partitions() <= 1) {
      return List.of(new Place("cluster", admin.clusterGroup(), -1));
    }
    List<Place> out = new ArrayList<>();
    for (int i = 0; i < d.partitions(); i++) {
      out.add(new Place(d.name() + "#" + i, RatisWiring.partitionGroupId(cluster, d.name(), i), i));
    }
    return out;
  }

  /** Group {@code g}'s whole state from its leader, holding every write acknowledged before the call. */
  private Mirror load(RaftGroupId g) {
    GroupInfoReply info = admin.info(g);
    RaftPeerId leader = RaftPeerId.valueOf(info.getRoleInfoProto().getSelf().getId());
    long barrier = linearizable(g, Query.newBuilder().setBarrier(Barrier.getDefaultInstance()).build())
        .getAppliedIndex();
    try (RaftClient c = admin.client(info.getGroup())) {
      return Dumps.load(c, leader, barrier, () -> { });
    } catch (Exception e) {
      MembershipAdmin.refusedOrNot(e, leader.toString());
      throw new RosterException("loading the state of group " + g + " from " + leader + " failed: " + e, e);
    }
  }

  /** {@code q} answered after a linearizable barrier (Ratis' ReadIndex) by group {@code g}'s leader. */
  private QueryResult linearizable(RaftGroupId g, Query q) {
    RaftGroup group = admin.info(g).getGroup();
    try (RaftClient c = admin.client(group)) {
      RaftClientReply reply = c.io().sendReadOnly(Message.valueOf(UnsafeByteOperations.unsafeWrap(q.toByteArray())));
      if (!reply.isSuccess()) {
        throw new RosterException("group " + g + " did not answer: " + reply.getException(), reply.getException());
      }
      QueryResult r = QueryResult.parseFrom(reply.getMessage().getContent().toByteArray());
      if (r.getStatus() != Status.OK) {
        throw new RosterException("group " + g + " refused the read: " + r.getStatus() + " " + r.getDetail());
      }
      return r;
    } catch (IOException e) {
      MembershipAdmin.refusedOrNot(e, "the leader of group " + g);
      throw new RosterException("reading group " + g + " failed: " + e.getMessage(), e);
    }
  }
}
