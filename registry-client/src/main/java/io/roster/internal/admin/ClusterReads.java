package io.roster.internal.admin;

import io.roster.ClusterReader;
import io.roster.ConsistencyReport;
import io.roster.RosterException;
import io.roster.internal.transport.Dumps;
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
import io.roster.proto.Registries;
import io.roster.proto.RegistrySummary;
import io.roster.proto.Status;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import io.roster.schema.Records;
import io.roster.schema.Registration;
import io.roster.schema.RegistryDescriptor;
import io.roster.schema.Revisions;
import io.roster.schema.Session;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
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
 * The admin's reads of a cluster's state (see {@link ClusterReader}), through an admin
 * certificate: registries and counts through a linearizable query answered from the leader's
 * mirror; a group's whole state (for listings) after a linearizable barrier, from any voter that has
 * applied it, followers first, so that the leader's apply thread is not the one copying it; keys
 * looked up through linearizable reads; the change stream followed from any voter; digest checks
 * proposed and compared. One Ratis client per group, closed with this object.
 */
public final class ClusterReads implements AutoCloseable {
  /** How long a digest check waits for every voter's digest. */
  private static final long DIGEST_MILLIS = 30_000;
  /** How long a voter holds a poll for changes when it has none. */
  private static final int WAIT_MILLIS = 500;
  /** How long a watch goes without any voter answering before it gives up. */
  static final long WATCH_SILENCE_MILLIS = 30_000;
  private static final long RETRY_MILLIS = 200;

  private final String cluster;
  private final MembershipAdmin admin;
  private final Map<RaftGroupId, RaftClient> clients = new ConcurrentHashMap<>();
  private volatile boolean closed;

  public ClusterReads(String cluster, MembershipAdmin admin) {
    this.cluster = cluster;
    this.admin = admin;
  }

  /** One Raft group holding a registry's entries: the cluster's group, or one partition's. */
  private record Place(String label, RaftGroupId group, int partition) {}

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
   * from {@code fromRevision} (0: from now) until the calling thread is interrupted; {@code notices}
   * hears where each partition's watch starts, and each move to another voter.
   */
  public void watch(String registry, int partition, long fromRevision, Consumer<ClusterReader.Event> each,
      Consumer<String> notices) throws InterruptedException {
    if (Thread.currentThread().isInterrupted()) {
      return;
    }
    if (partition < -1) {
      throw new IllegalArgumentException("a partition is 0 or more (or -1 for all): " + partition);
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
          }, notices);
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
        t.join(5_000);
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
      Consumer<String> notices) throws InterruptedException {
    long after = fromRevision > 0 ? Math.max(0, Revisions.index(fromRevision) - 1)
        : linearizable(p.group, Query.newBuilder().setBarrier(Barrier.getDefaultInstance()).build()).getAppliedIndex();
    notices.accept("watching " + registry + " " + p.label + " after revision " + Revisions.entryEnd(after));
    List<RaftPeerId> voters = voters(p.group);
    int at = 0;
    int compacted = 0; // voters in a row whose history does not reach back to `after`
    long heardNanos = System.nanoTime();
    RaftClient c = client(p.group);
    while (!Thread.currentThread().isInterrupted()) {
      RaftPeerId peer = voters.get(Math.floorMod(at, voters.size()));
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
        if (System.nanoTime() - heardNanos > TimeUnit.MILLISECONDS.toNanos(WATCH_SILENCE_MILLIS)) {
          throw new RosterException(p.label + ": no voter answered the change stream for "
              + WATCH_SILENCE_MILLIS / 1000 + " s (last: " + peer + ", " + e + ")");
        }
        at++;
        notices.accept(p.label + ": " + peer + " does not answer (" + e.getClass().getSimpleName()
            + "); following " + voters.get(Math.floorMod(at, voters.size())));
        Thread.sleep(RETRY_MILLIS);
        try {
          voters = voters(p.group); // a voter replaced since the watch began
        } catch (RosterException noLeaderYet) {
          // keep the ones known
        }
        continue;
      }
      heardNanos = System.nanoTime();
      if (r.getStatus() == Status.COMPACTED) {
        if (++compacted >= voters.size()) {
          throw new RosterException(p.label + ": revision " + (Revisions.entryEnd(after) + 1) + " is older than "
              + "the change history every voter keeps: list the registry, then watch from now");
        }
        at++; // another voter's history may reach further back (one restarted since, not)
        continue;
      }
      compacted = 0;
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
    for (Map.Entry<String, String> g : groupNames().entrySet()) {
      RaftGroupId id = RaftGroupId.valueOf(java.util.UUID.fromString(g.getKey()));
      progress.accept(g.getValue());
      out.add(check(g.getValue(), id));
    }
    return out;
  }

  private ConsistencyReport check(String label, RaftGroupId g) {
    RaftGroup group = admin.info(g).getGroup();
    long index;
    try {
      RaftClientReply reply = client(g).io().send(Message.valueOf(UnsafeByteOperations.unsafeWrap(
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
      MembershipAdmin.refusedOrNot(e, "the leader of " + label);
      throw new RosterException(label + ": the digest check failed: " + e.getMessage(), e);
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DIGEST_MILLIS);
    Map<String, CompletableFuture<String>> asked = new LinkedHashMap<>();
    java.util.concurrent.ExecutorService askers = java.util.concurrent.Executors.newFixedThreadPool(
        group.getPeers().size(), r -> {
          Thread t = new Thread(r, "roster-check-" + label);
          t.setDaemon(true);
          return t;
        });
    Map<String, String> digests = new java.util.TreeMap<>();
    try {
      for (RaftPeer peer : group.getPeers()) { // all at once: one down costs its timeout once, not per voter
        asked.put(peer.getId().toString(),
            CompletableFuture.supplyAsync(() -> digest(group, peer, index, deadline), askers));
      }
      asked.forEach((peer, d) -> {
        String digest = d.join();
        if (digest != null) {
          digests.put(peer, digest);
        }
      });
    } finally {
      askers.shutdownNow();
    }
    Map<String, Integer> counts = new java.util.HashMap<>();
    digests.values().forEach(d -> counts.merge(d, 1, Integer::sum));
    String majority = counts.entrySet().stream().filter(e -> e.getValue() > group.getPeers().size() / 2)
        .map(Map.Entry::getKey).findFirst().orElse(null);
    return new ConsistencyReport(label, index, digests, majority, group.getPeers().stream()
        .map(v -> v.getId().toString()).filter(v -> !digests.containsKey(v)).sorted().toList());
  }

  /**
   * {@code peer}'s digest at {@code index}, asked again until the deadline while it computes it, is
   * not there yet (behind: Ratis refuses the stale read) or does not answer; null if it has none by
   * then, or none for that index.
   */
  private String digest(RaftGroup group, RaftPeer peer, long index, long deadline) {
    try (RaftClient c = admin.client(group, 5_000, 1)) {
      while (System.nanoTime() < deadline) {
        QueryResult r;
        try {
          r = Dumps.query(c, Query.newBuilder().setDigestAt(DigestAt.newBuilder().setIndex(index)).build(),
              peer.getId(), index, () -> { });
        } catch (Exception e) {
          MembershipAdmin.refusedOrNot(e, peer.getId().toString());
          Thread.sleep(RETRY_MILLIS); // down, or behind: again until the deadline
          continue;
        }
        if (r.getStatus() == Status.OK) {
          return r.getDigest();
        }
        if (r.getStatus() != Status.BUSY) {
          return null; // no digest for that index (it keeps the last few)
        }
        Thread.sleep(RETRY_MILLIS);
      }
      return null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
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
  private RegistryDescriptor descriptor(String registry) {
    for (RegistrySummary s : summaries(admin.clusterGroup())) {
      if (s.getName().equals(registry)) {
        return Records.descriptor(s.getName(), s.getRecord());
      }
    }
    throw new IllegalArgumentException("no registry '" + registry + "' in cluster '" + cluster + "'");
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

  /** Group {@code g}'s voters, followers first (its leader last), as its leader's configuration lists them. */
  private List<RaftPeerId> voters(RaftGroupId g) {
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
  private QueryResult linearizable(RaftGroupId g, Query q) {
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
  private RaftClient client(RaftGroupId g) {
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
