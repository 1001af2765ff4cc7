package io.roster;

/** A running {@link Registry#watch}: close it to stop the events. */
public interface Subscription extends AutoCloseable {
  /** The revision up to which events have been delivered: resume after it with {@code watch(revision, ...)}. */
  long revision();

  /** Stops delivery; an event being delivered finishes. Idempotent. */
  @Override
  void close();
}
