package io.roster;

/**
 * The work {@link Registry#lock} runs while it holds a lock.
 *
 * @param <T> the result type
 */
@FunctionalInterface
public interface LockedFunction<T> {
  /**
   * @param fencingToken derived from the revision of the acquisition (revision × 4,096 + the
   *     command's position in its entry): larger for every later acquisition of any lock of the
   *     cluster, so a resource that remembers the largest token it has seen can refuse a holder
   *     that lost the lock while paused
   */
  T apply(long fencingToken) throws Exception;
}
