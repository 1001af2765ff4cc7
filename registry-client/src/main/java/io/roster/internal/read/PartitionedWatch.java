package io.roster.internal.read;

import io.roster.RegistryListener;
import io.roster.RosterException;
import io.roster.Subscription;
import java.util.List;

/**
 * One watch per partition feeding one listener, one event at a time; an error in any partition
 * ends them all and reaches the listener once.
 */
public final class PartitionedWatch<V> implements Subscription, RegistryListener<V> {
  private final RegistryListener<V> listener;
  private final List<Subscription> watches = new java.util.concurrent.CopyOnWriteArrayList<>();
  private boolean ended;

  /** A watch of many partitions that delivers to {@code listener}; add each partition's watch. */
  public PartitionedWatch(RegistryListener<V> listener) {
    this.listener = listener;
  }

  /** Adds the watch of one more partition. */
  public void add(Subscription s) {
    watches.add(s);
  }

  @Override
  public synchronized void onEvent(io.roster.RegistryEvent<V> event) {
    if (!ended) {
      listener.onEvent(event); // a throw ends this partition's watch, whose onError ends the rest
    }
  }

  @Override
  public void onError(RosterException error) {
    synchronized (this) {
      if (ended) {
        return;
      }
      ended = true;
    }
    watches.forEach(Subscription::close);
    listener.onError(error);
  }

  @Override
  public long revision() {
    throw new IllegalStateException("a watch of " + watches.size() + " partitions has a revision per partition; "
        + "resume with watchPartition");
  }

  @Override
  public void close() {
    synchronized (this) {
      ended = true;
    }
    watches.forEach(Subscription::close);
  }
}
