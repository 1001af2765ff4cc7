package io.roster;

/**
 * The work {@link Registry#lockWithLease} runs while it holds a lock, told when the lock is lost.
 *
 * @param <T> the result type
 */
@FunctionalInterface
public interface LeasedFunction<T> {
  T apply(LockLease lease) throws Exception;
}
