package io.roster.internal.read;

import io.roster.Pid;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Removals this node asked for that have not applied yet: unregistered keys and dead processes.
 * Local reads consult it so that the node hides them at once (DGen's fire-and-forget unregister);
 * the mirror itself changes only in apply order. An entry is dropped when its command applies or
 * fails. Empty almost always, and then a read costs one volatile load.
 */
public final class PendingRemovals {
  /** Hides nothing, ever: what consistent reads consult (nothing is ever added to it). */
  public static final PendingRemovals NONE = new PendingRemovals();

  private final AtomicInteger size = new AtomicInteger();
  private final ConcurrentHashMap<String, ConcurrentHashMap<String, Set<Pid>>> keys = new ConcurrentHashMap<>();
  private final Set<Pid> deadPids = ConcurrentHashMap.newKeySet();

  /** True if anything is hidden: one volatile load. */
  public boolean any() {
    return size.get() != 0;
  }

  public boolean hides(String registry, String key, Pid owner) {
    if (size.get() == 0) {
      return false;
    }
    if (deadPids.contains(owner)) {
      return true;
    }
    ConcurrentHashMap<String, Set<Pid>> r = keys.get(registry);
    Set<Pid> pids = r == null ? null : r.get(key);
    return pids != null && pids.contains(owner);
  }

  public void addKey(String registry, String key, Pid owner) {
    keys.computeIfAbsent(registry, k -> new ConcurrentHashMap<>()).compute(key, (k, pids) -> {
      Set<Pid> set = pids == null ? ConcurrentHashMap.newKeySet() : pids;
      if (set.add(owner)) {
        size.incrementAndGet();
      }
      return set;
    });
  }

  public void removeKey(String registry, String key, Pid owner) {
    ConcurrentHashMap<String, Set<Pid>> r = keys.get(registry);
    if (r == null) {
      return;
    }
    // atomic per key, so that an addKey racing with the removal of the last owner is not lost
    r.computeIfPresent(key, (k, pids) -> {
      if (pids.remove(owner)) {
        size.decrementAndGet();
      }
      return pids.isEmpty() ? null : pids;
    });
  }

  public void addPid(Pid pid) {
    if (deadPids.add(pid)) {
      size.incrementAndGet();
    }
  }

  public void removePid(Pid pid) {
    if (deadPids.remove(pid)) {
      size.decrementAndGet();
    }
  }

  /** Forgets every pid of node {@code nodeId}'s incarnation {@code incarnation}: its session's end removed their names. */
  public void forgetIncarnation(String nodeId, long incarnation) {
    java.util.function.Predicate<Pid> of = p -> p.nodeId().equals(nodeId) && p.incarnation() == incarnation;
    for (Pid p : java.util.List.copyOf(deadPids)) {
      if (of.test(p)) {
        removePid(p);
      }
    }
    keys.forEach((registry, byKey) -> byKey.forEach((key, pids) -> {
      for (Pid p : java.util.List.copyOf(pids)) {
        if (of.test(p)) {
          removeKey(registry, key, p);
        }
      }
    }));
  }
}
