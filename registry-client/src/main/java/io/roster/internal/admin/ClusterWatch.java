package io.roster.internal.admin;

import io.roster.ClusterReader;
import io.roster.RosterException;
import io.roster.internal.transport.Dumps;
import io.roster.proto.Barrier;
import io.roster.proto.ChangeEntry;
import io.roster.proto.ChangeProto;
import io.roster.proto.Changes;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.RegistrationChange;
import io.roster.proto.Status;
import io.roster.schema.Codec;
import io.roster.schema.RegistryDescriptor;
import io.roster.schema.Revisions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.RaftPeerId;

/**
 * A registry's change stream, followed for an operator ({@link ClusterReader#watch}): per partition
 * a thread that long-polls any voter for the entries after its index (a linearizable "now", or the
 * revision asked), moves to another voter when one fails or no longer keeps the history, and gives up
 * when none has answered for {@value #WATCH_SILENCE_MILLIS} ms.
 */
final class ClusterWatch {
  /** How long a voter holds a poll for changes when it has none. */
  private static final int WAIT_MILLIS = 500;
  /** How long a watch goes without any voter answering before it gives up. */
  static final long WATCH_SILENCE_MILLIS = 30_000;
  private static final long RETRY_MILLIS = 200;

  private final ClusterReads reads;

  ClusterWatch(ClusterReads reads) {
    this.reads = reads;
  }

  /**
   * Follows {@code registry}'s changes (of one partition, or all when {@code partition} is -1)
   * from {@code fromRevision} (0: from now) until the calling thread is interrupted; {@code notices}
   * hears where each partition's watch starts, and each move to another voter.
   */
  void watch(String registry, int partition, long fromRevision, Consumer<ClusterReader.Event> each,
      Consumer<String> notices) throws InterruptedException {
    if (Thread.currentThread().isInterrupted()) {
      return;
    }
    if (partition < -1) {
      throw new IllegalArgumentException("a partition is 0 or more (or -1 for all): " + partition);
    }
    RegistryDescriptor d = reads.descriptor(registry);
    List<ClusterReads.Place> places = reads.places(d);
    if (partition >= 0) {
      if (partition >= places.size() || places.get(0).partition() < 0) {
        throw new IllegalArgumentException("registry '" + registry + "' has " + places.size() + " partition(s); "
            + "there is no partition " + partition + (places.get(0).partition() < 0 ? " (it is not partitioned)" : ""));
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
    for (ClusterReads.Place p : places) {
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
      }, "roster-watch-" + p.label());
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

  private void follow(String registry, ClusterReads.Place p, long fromRevision, Consumer<ClusterReader.Event> each,
      Consumer<String> notices) throws InterruptedException {
    long after = fromRevision > 0 ? Math.max(0, Revisions.index(fromRevision) - 1)
        : reads.linearizable(p.group(), Query.newBuilder().setBarrier(Barrier.getDefaultInstance()).build())
            .getAppliedIndex();
    notices.accept("watching " + registry + " " + p.label() + " after revision " + Revisions.entryEnd(after));
    List<RaftPeerId> voters = reads.voters(p.group());
    int at = 0;
    int compacted = 0; // voters in a row whose history does not reach back to `after`
    long heardNanos = System.nanoTime();
    RaftClient c = reads.client(p.group());
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
          throw new RosterException(p.label() + ": no voter answered the change stream for "
              + WATCH_SILENCE_MILLIS / 1000 + " s (last: " + peer + ", " + e + ")");
        }
        at++;
        notices.accept(p.label() + ": " + peer + " does not answer (" + e.getClass().getSimpleName()
            + "); following " + voters.get(Math.floorMod(at, voters.size())));
        Thread.sleep(RETRY_MILLIS);
        try {
          voters = reads.voters(p.group()); // a voter replaced since the watch began
        } catch (RosterException noLeaderYet) {
          // keep the ones known
        }
        continue;
      }
      heardNanos = System.nanoTime();
      if (r.getStatus() == Status.COMPACTED) {
        if (++compacted >= voters.size()) {
          throw new RosterException(p.label() + ": revision " + (Revisions.entryEnd(after) + 1) + " is older than "
              + "the change history every voter keeps: list the registry, then watch from now");
        }
        at++; // another voter's history may reach further back (one restarted since, not)
        continue;
      }
      compacted = 0;
      if (r.getStatus() != Status.OK) {
        throw new RosterException(p.label() + ": " + peer + " refused the change stream: " + r.getStatus() + " "
            + r.getDetail());
      }
      for (ChangeEntry e : r.getChangeEntriesList()) {
        for (ChangeProto change : e.getChangesList()) {
          long revision = Revisions.of(e.getIndex(), change.getOrdinal());
          ClusterReader.Event event = event(change, revision, p.partition());
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
}
