package io.roster.internal.read;

import io.roster.CompactedException;
import io.roster.Pid;
import io.roster.RegistryEvent;
import io.roster.RegistryListener;
import io.roster.RosterException;
import io.roster.Subscription;
import io.roster.ValueCodec;
import io.roster.mirror.ChangeHistory;
import io.roster.proto.ChangeEntry;
import io.roster.proto.ChangeProto;
import io.roster.proto.RegistrationChange;
import io.roster.schema.Codec;
import io.roster.schema.Revisions;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * One watch subscription: reads the node's change history from its cursor, in index order, and
 * hands the registry's events to the listener. It keeps no queue of its own: the history is the
 * queue, bounded, and a subscription that falls behind it ends with {@link CompactedException}.
 * One pump runs at a time per subscription, on the node's watch executor.
 */
public final class Watch<V> implements Subscription {
  private static final int SLICE_MAX = 1024;

  private final ChangeHistory history;
  private final String registry;
  private final ValueCodec<V> codec;
  private final RegistryListener<V> listener;
  private final Executor executor;
  private final Consumer<Watch<?>> onEnd;
  private final AtomicBoolean ended = new AtomicBoolean();
  /** Held while the listener is called: one call at a time, and nothing once the subscription ended. */
  private final Object delivery = new Object();
  /** The revision up to which events were delivered: resuming inside an entry skips its earlier commands. */
  private volatile long cursor;
  /** "From now" on a node whose history is not loaded yet (a client before its first load): now is the load. */
  private final boolean fromNow;
  private final int partition;

  public Watch(ChangeHistory history, String registry, int partition, ValueCodec<V> codec, long afterRevision,
      boolean fromNow, RegistryListener<V> listener, Executor executor, Consumer<Watch<?>> onEnd) {
    this.fromNow = fromNow;
    this.partition = partition;
    this.history = history;
    this.registry = registry;
    this.codec = codec;
    this.listener = listener;
    this.executor = executor;
    this.onEnd = onEnd;
    this.cursor = afterRevision;
  }

  public void start() {
    schedule();
  }

  private void schedule() {
    try {
      executor.execute(this::pump);
    } catch (RejectedExecutionException e) {
      end(new RosterException("the node is closed"));
    }
  }

  private void pump() {
    try {
      while (!ended.get()) {
        CompletableFuture<Void> next = history.nextChange(); // taken before reading, so no append is missed
        long from = cursor;
        long index = Revisions.index(from);
        // an entry is read again from its start unless the cursor is past its last command
        long afterIndex = from == Revisions.entryEnd(index) ? index : index - 1;
        ChangeHistory.Slice slice = history.after(afterIndex, SLICE_MAX);
        if (slice == null && fromNow && index == 0) {
          cursor = Revisions.entryEnd(history.completeAfter()); // the first load is "now"
          continue;
        }
        if (slice == null) {
          end(new CompactedException(from, Revisions.entryEnd(history.completeAfter())));
          return;
        }
        for (ChangeEntry e : slice.entries()) {
          for (ChangeProto c : e.getChangesList()) {
            long revision = Revisions.of(e.getIndex(), c.getOrdinal());
            if (revision <= from) {
              continue; // delivered before this subscription resumed
            }
            RegistryEvent<V> event = event(revision, c);
            if (event != null) {
              synchronized (delivery) {
                if (ended.get()) {
                  return;
                }
                listener.onEvent(event);
                cursor = revision;
              }
            }
          }
          cursor = Math.max(cursor, Revisions.entryEnd(e.getIndex()));
        }
        if (slice.entries().isEmpty()) {
          cursor = Math.max(cursor, Revisions.entryEnd(slice.appliedIndex()));
          next.thenRun(this::schedule);
          return;
        }
      }
    } catch (RuntimeException e) {
      end(new RosterException("the watch of registry '" + registry + "' ended: " + e, e));
    }
  }

  private RegistryEvent<V> event(long revision, ChangeProto c) {
    RegistrationChange r;
    RegistryEvent.Type type;
    if (c.hasRegistered()) {
      r = c.getRegistered();
      type = RegistryEvent.Type.REGISTERED;
    } else if (c.hasUnregistered()) {
      r = c.getUnregistered();
      type = RegistryEvent.Type.UNREGISTERED;
    } else {
      return null;
    }
    if (!r.getRegistry().equals(registry)) {
      return null;
    }
    Pid pid = Codec.fromProto(r.getRecord().getPid());
    return new RegistryEvent<>(type, registry, r.getKey(), pid, r.getRecord().hasValue() ? codec.decode(r.getRecord().getValue().toByteArray()) : null,
        revision, partition);
  }

  /** Ends the subscription with an error for the listener (once). */
  public void end(RosterException error) {
    synchronized (delivery) { // after an event being delivered, never during one
      if (ended.compareAndSet(false, true)) {
        onEnd.accept(this);
        try {
          listener.onError(error);
        } catch (RuntimeException ignored) {
          // the listener's own failure on its way out: nothing left to tell
        }
      }
    }
  }

  @Override
  public long revision() {
    return cursor;
  }

  @Override
  public void close() {
    synchronized (delivery) { // once it returns, no event follows
      if (ended.compareAndSet(false, true)) {
        onEnd.accept(this);
      }
    }
  }
}
