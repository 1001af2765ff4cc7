package io.roster;

/**
 * The work {@link Registry#lock} runs while it holds a lock.
 *
 * @param <T> the result type
 */
@FunctionalInterface
public interface LockedFunction<T> {
  /**
   * @param fencingToken the revision of the acquisition: larger for every later holder of any lock
   *     of the cluster, so a resource that remembers the largest token it has seen can refuse a
   *     holder that lost the lock while paused
   */
  T apply(long fencingToken) throws Exception;
}
