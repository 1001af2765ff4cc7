package io.roster;

/**
 * Receives the events of a {@link Registry#watch} subscription, one at a time, in revision order,
 * on a thread of the node's (never the caller's). A listener that throws ends its subscription.
 *
 * @param <V> the value type
 */
@FunctionalInterface
public interface RegistryListener<V> {
  void onEvent(RegistryEvent<V> event);

  /**
   * The subscription ended for a reason other than {@link Subscription#close()}: a
   * {@link CompactedException} (this node's history no longer reaches the subscription's revision;
   * read the state and watch again from its revision), the listener threw, or the node closed.
   * Called at most once, and nothing after it.
   */
  default void onError(RosterException error) {}
}
