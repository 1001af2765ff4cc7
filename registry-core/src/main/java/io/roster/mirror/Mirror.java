package io.roster.mirror;

// This file is large because the mirror is a single idea with many indexes (entries, pids, sessions,
// locks, metadata) that must change together under one set of invariants.

import io.roster.Pid;
import io.roster.core.StateView;
import io.roster.schema.Change.LockAcquired;
import io.roster.schema.Change.LockReleased;
import io.roster.schema.Change.MetaDeleted;
import io.roster.schema.Change.MetaPut;
import io.roster.schema.Change.Registered;
import io.roster.schema.Change.RegistryCreated;
import io.roster.schema.Change.SessionChanged;
import io.roster.schema.Change.Unregistered;
import io.roster.schema.Change.ValueUpdated;
import io.roster.schema.Change;
import io.roster.schema.ChangeCodec;
import io.roster.schema.LockHold;
import io.roster.schema.Registration;
import io.roster.schema.RegistryDescriptor;
import io.roster.schema.Revisions;
import io.roster.schema.Session;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The in-memory read model of the replicated state, built from {@link ConcurrentHashMap}s.
 *
 * <p><b>Threads.</b> One writer, the apply thread, calls {@link #apply}; any number of readers read
 * concurrently without locks. Every published object is immutable (duplicates are copy-on-write
 * arrays), so a reader sees each key either before or after a change, never half of one. Reads that
 * span keys are weakly consistent, like {@code ConcurrentHashMap} iteration.
 *
 * <p><b>Hit path.</b> {@link #whereis} does two {@code ConcurrentHashMap.get}s and allocates nothing;
 * {@link RegistryState#whereis}, on a registry found once, does one.
 *
 * <p><b>Staleness.</b> The mirror reflects the entries applied on this peer, which may lag the
 * leader's commit index by the replication window; {@link #appliedIndex()} tells how far it is.
 */
public final class Mirror implements StateView {
  private static final Registration[] NO_REGISTRATIONS = new Registration[0];
  private static final LockHold[] NO_LOCKS = new LockHold[0];

  /**
   * The state of one registry: its entries (a Registration, or a Registration[] for duplicates).
   * A reader may keep it (see {@link Mirror#registryState}) for as long as it keeps this mirror: a
   * registry is never deleted, and a mirror is replaced as a whole, never cleared.
   */
  public static final class RegistryState {
    final RegistryDescriptor descriptor;
    final ConcurrentHashMap<String, Object> entries = new ConcurrentHashMap<>();
    final ConcurrentHashMap<String, byte[]> meta = new ConcurrentHashMap<>();
    final ConcurrentHashMap<String, LockHold> locks = new ConcurrentHashMap<>();
    /** Registrations in entries; written by the apply thread only. */
    private volatile long size;

    RegistryState(RegistryDescriptor descriptor) {
      this.descriptor = descriptor;
    }

    public RegistryDescriptor descriptor() {
      return descriptor;
    }

    /** As {@link Mirror#whereis}, with the registry already found: one map read, no allocation. */
    public Pid whereis(String key) {
      Object e = entries.get(key);
      if (e instanceof Registration) {
        return ((Registration) e).pid();
      }
      return e == null ? null : ((Registration[]) e)[0].pid();
    }

    /** The number of registrations: constant time. */
    public long size() {
      return size;
    }

    /** Visits every registration; weakly consistent, like {@code ConcurrentHashMap} iteration. */
    public void forEach(java.util.function.Consumer<Registration> visitor) {
      entries.forEach((k, e) -> {
        if (e instanceof Registration r) {
          visitor.accept(r);
        } else {
          for (Registration r : (Registration[]) e) {
            visitor.accept(r);
          }
        }
      });
    }

    /** The registry metadata under {@code key}, or null; callers must not modify it. */
    public byte[] meta(String key) {
      return meta.get(key);
    }

    /** As {@link Mirror#lookup}, with the registry already found. */
    public List<Registration> lookup(String key) {
      Object e = entries.get(key);
      if (e instanceof Registration) {
        return List.of((Registration) e);
      }
      return e == null ? List.of() : List.of((Registration[]) e);
    }
  }

  /**
   * What one pid holds; immutable, replaced on change. A pid holding exactly one registration and
   * no lock is stored as that {@link Registration} itself (most processes hold one name), which
   * saves this record and its array: see {@link #expand} and {@link #compact}. A pid holding more
   * than {@link #FEW_MAX} registrations has {@link ManyHoldings} instead, changed in place. The
   * registrations are listed in creation order ({@link #BY_CREATION}) in both forms, on every
   * replica alike, whatever order a store loaded them in.
   */
  private record Holdings(Registration[] registrations, LockHold[] locks) {
    int size() {
      return registrations.length + locks.length;
    }
  }

  /** The most registrations a pid's {@link Holdings} array holds; one more and they move to {@link ManyHoldings}. */
  static final int FEW_MAX = 16;

  /**
   * Creation order: by the (index, ordinal) of the command that created the registration, unique
   * in a group; key and registry only as a tie-break that never decides between two registrations
   * of one mirror.
   */
  private static final java.util.Comparator<Registration> BY_CREATION = (a, b) -> {
    int c = Registration.creationOrder(a, b);
    if (c == 0) {
      c = a.key().compareTo(b.key());
    }
    return c != 0 ? c : a.registry().name().compareTo(b.registry().name());
  };

  /**
   * The holdings of a pid with many registrations (a process that names thousands of things), by
   * revision (unique to a registration in a group): adding or removing one is a hash map's O(1),
   * where copying an array each time made a pid's n registrations cost O(n²) (a skip list, tried
   * first, cost a cache miss per level on every add). Listing them sorts, O(n log n): only a
   * process's release and {@code registrationsOf} do. Changed in place by the apply thread only;
   * readers see each registration added or removed as a whole, like the rest of the mirror.
   */
  private static final class ManyHoldings {
    final ConcurrentHashMap<Long, Registration> registrations = new ConcurrentHashMap<>();
    /** The pid's instance the mirror keeps (see {@link Mirror#canonical}). */
    final Pid pid;
    volatile LockHold[] locks;

    ManyHoldings(Registration[] registrations, LockHold[] locks) {
      for (Registration r : registrations) {
        add(r);
      }
      this.pid = registrations[0].pid();
      this.locks = locks;
    }

    void add(Registration r) {
      Registration previous = registrations.putIfAbsent(Revisions.of(r.index(), r.ordinal()), r);
      if (previous != null) {
        throw violated("two registrations of one pid at one revision: " + previous + " and " + r);
      }
    }

    /** Removes {@code r} if held; false if not. */
    boolean remove(Registration r) {
      Long revision = Revisions.of(r.index(), r.ordinal());
      Registration held = registrations.get(revision);
      return held != null && held.sameIdentity(r) && registrations.remove(revision, held);
    }

    boolean holds(Registration r) {
      Registration held = registrations.get(Revisions.of(r.index(), r.ordinal()));
      return held != null && held.sameIdentity(r);
    }

    int count() {
      return registrations.size();
    }

    /** The registrations in creation order. */
    Registration[] sorted() {
      Registration[] a = registrations.values().toArray(NO_REGISTRATIONS);
      Arrays.sort(a, BY_CREATION);
      return a;
    }

    Holdings toFew() {
      return new Holdings(sorted(), locks);
    }
  }

  private static final Holdings NO_HOLDINGS = new Holdings(new Registration[0], new LockHold[0]);

  private static Holdings expand(Object v) {
    if (v == null) {
      return NO_HOLDINGS;
    }
    if (v instanceof ManyHoldings m) {
      return m.toFew();
    }
    return v instanceof Registration r ? new Holdings(new Registration[] {r}, NO_LOCKS) : (Holdings) v;
  }

  private static Object compact(Holdings h) {
    if (h.size() == 0) {
      return null;
    }
    return h.registrations().length == 1 && h.locks().length == 0 ? h.registrations()[0] : h;
  }

  private final ConcurrentHashMap<String, RegistryState> registries = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Session> sessions = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Pid, Object> holdings = new ConcurrentHashMap<>(); // Registration, Holdings or ManyHoldings
  private volatile long appliedIndex;

  /** The index of the last Raft entry applied to this mirror. */
  public long appliedIndex() {
    return appliedIndex;
  }

  public void appliedIndex(long index) {
    if (index < appliedIndex) {
      throw new IllegalStateException("applied index went back from " + appliedIndex + " to " + index);
    }
    appliedIndex = index;
  }

  // ---------------------------------------------------------------- reads

  /**
   * The owner of a unique key, or of the first (oldest) entry of a duplicate key; null if the key
   * or the registry does not exist. Local, never blocks, allocates nothing.
   */
  public Pid whereis(String registry, String key) {
    RegistryState r = registries.get(registry);
    return r == null ? null : r.whereis(key);
  }

  /** Every entry of a key (one for a unique key), in creation order; empty if none. */
  public List<Registration> lookup(String registry, String key) {
    RegistryState r = registries.get(registry);
    return r == null ? List.of() : r.lookup(key);
  }

  /** The state of a registry, to read it without finding it again; null if it does not exist (yet). */
  public RegistryState registryState(String registry) {
    return registries.get(registry);
  }

  @Override
  public RegistryDescriptor registry(String name) {
    RegistryState r = registries.get(name);
    return r == null ? null : r.descriptor;
  }

  /** The descriptors of every registry, in no particular order. */
  public List<RegistryDescriptor> registries() {
    List<RegistryDescriptor> out = new ArrayList<>(registries.size());
    registries.values().forEach(r -> out.add(r.descriptor));
    return out;
  }

  @Override
  public int partitionGroupCount() {
    int n = 0;
    for (RegistryState r : registries.values()) { // only at a registry's creation: rare
      if (r.descriptor.partitions() > 1) {
        n += r.descriptor.partitions();
      }
    }
    return n;
  }

  @Override
  public int registryCount() {
    return registries.size();
  }

  @Override
  public Registration unique(String registry, String key) {
    RegistryState r = registries.get(registry);
    Object e = r == null ? null : r.entries.get(key);
    return e instanceof Registration ? (Registration) e : null;
  }

  @Override
  public List<Registration> duplicates(String registry, String key) {
    RegistryState r = registries.get(registry);
    Object e = r == null ? null : r.entries.get(key);
    return e instanceof Registration[] ? List.of((Registration[]) e) : List.of();
  }

  @Override
  public List<Registration> registrationsOf(Pid pid) {
    Object v = holdings.get(pid);
    return List.of(v instanceof ManyHoldings m ? m.sorted() : expand(v).registrations());
  }

  @Override
  public List<LockHold> locksOf(Pid pid) {
    Object v = holdings.get(pid);
    return List.of(v instanceof ManyHoldings m ? m.locks : expand(v).locks());
  }

  /**
   * The instance of {@code pid} the mirror already holds, or one that shares its node's id string:
   * a million registrations should not carry a million copies of a few node ids.
   */
  @Override
  public Pid canonical(Pid pid) {
    Object v = holdings.get(pid);
    if (v instanceof Registration r) {
      return r.pid();
    }
    if (v instanceof Holdings h) {
      return h.registrations().length > 0 ? h.registrations()[0].pid() : h.locks()[0].pid();
    }
    if (v instanceof ManyHoldings m) {
      return m.pid;
    }
    Session s = sessions.get(pid.nodeId());
    return s == null || s.nodeId() == pid.nodeId() ? pid : Pid.of(s.nodeId(), pid.incarnation(), pid.serial());
  }

  /** Scans every pid that holds anything: O(pids), for the rare node-level expiry. */
  @Override
  public List<Pid> pidsOf(String nodeId, long incarnation) {
    List<Pid> pids = new ArrayList<>();
    for (Pid pid : holdings.keySet()) {
      if (pid.incarnation() == incarnation && pid.nodeId().equals(nodeId)) {
        pids.add(pid);
      }
    }
    pids.sort((a, b) -> Long.compare(a.serial(), b.serial())); // deterministic order for the core
    return pids;
  }

  @Override
  public int holdingsOf(Pid pid) {
    Object v = holdings.get(pid);
    if (v instanceof ManyHoldings m) {
      return m.count() + m.locks.length;
    }
    return v == null ? 0 : v instanceof Registration ? 1 : ((Holdings) v).size();
  }

  @Override
  public Session session(String nodeId) {
    return sessions.get(nodeId);
  }

  /** Sessions that are open (not expired). */
  public List<Session> openSessions() {
    List<Session> open = new ArrayList<>();
    for (Session s : sessions.values()) {
      if (!s.expired()) {
        open.add(s);
      }
    }
    return open;
  }

  @Override
  public int sessionCount() {
    return sessions.size();
  }

  @Override
  public LockHold lock(String registry, String lockKey) {
    RegistryState r = registries.get(registry);
    return r == null ? null : r.locks.get(lockKey);
  }

  @Override
  public byte[] meta(String registry, String key) {
    RegistryState r = registries.get(registry);
    return r == null ? null : r.meta.get(key);
  }

  @Override
  public int metaCount(String registry) {
    RegistryState r = registries.get(registry);
    return r == null ? 0 : r.meta.size();
  }

  // ---------------------------------------------------------------- writes (apply thread only)

  /**
   * Applies one change decided by {@link io.roster.core.RegistryCore}. Only the single writer (the apply thread)
   * may call it; public for benchmarks and tools that drive a mirror without a store.
   *
   * @throws IllegalStateException if the change breaks an invariant (a bug upstream)
   */
  public void apply(Change change) {
    if (change instanceof RegistryCreated c) {
      RegistryState previous = registries.putIfAbsent(c.registry().name(), new RegistryState(c.registry()));
      if (previous != null) {
        throw violated("registry created twice: " + c.registry().name());
      }
    } else if (change instanceof Registered c) {
      register(c.registration());
    } else if (change instanceof Unregistered c) {
      unregister(c.registration());
    } else if (change instanceof ValueUpdated c) {
      RegistryState r = state(c.before().registry().name());
      boolean replaced = r.entries.replace(c.before().key(), c.before(), c.after());
      if (!replaced) {
        throw violated("value update of a registration that is not current: " + c.before());
      }
      replaceHolding(c.before(), c.after());
    } else if (change instanceof MetaPut c) {
      state(c.registry()).meta.put(c.key(), c.value());
    } else if (change instanceof MetaDeleted c) {
      state(c.registry()).meta.remove(c.key());
    } else if (change instanceof SessionChanged c) {
      sessions.put(c.session().nodeId(), c.session());
    } else if (change instanceof LockAcquired c) {
      LockHold previous = state(c.lock().registry()).locks.putIfAbsent(c.lock().lockKey(), c.lock());
      if (previous != null) {
        throw violated("lock acquired while held: " + previous);
      }
      changeLocks(c.lock().pid(), locks -> append(locks, c.lock()));
    } else if (change instanceof LockReleased c) {
      boolean removed = state(c.lock().registry()).locks.remove(c.lock().lockKey(), c.lock());
      if (!removed) {
        throw violated("release of a lock that is not held: " + c.lock());
      }
      changeLocks(c.lock().pid(), locks -> without(locks, c.lock()));
    } else {
      throw new IllegalArgumentException("unknown change " + change);
    }
  }

  /** Registrations per node id (for the per-node quota); written by the apply thread only. */
  private final ConcurrentHashMap<String, Integer> registrationsByNode = new ConcurrentHashMap<>();
  private volatile long registrationCount;

  @Override
  public int registrationsOfNode(String nodeId) {
    return registrationsByNode.getOrDefault(nodeId, 0);
  }

  /** Number of registrations in all registries (counts every duplicate entry). */
  @Override
  public long registrationCount() {
    return registrationCount;
  }

  private void counted(Registration reg, int delta) {
    registrationsByNode.merge(reg.pid().nodeId(), delta, (a, b) -> a + b == 0 ? null : a + b);
    registrationCount += delta;
  }

  private void register(Registration reg) {
    counted(reg, 1);
    RegistryState r = state(reg.registry().name());
    if (reg.registry().unique()) {
      Object previous = r.entries.putIfAbsent(reg.key(), reg);
      // Invariant: a unique key has at most one owner.
      if (previous != null) {
        throw violated("unique key registered twice: " + previous + " and " + reg);
      }
    } else {
      r.entries.compute(reg.key(), (k, v) -> {
        Registration[] old = v == null ? NO_REGISTRATIONS : (Registration[]) v;
        if (old.length > 0 && Registration.creationOrder(old[old.length - 1], reg) >= 0) {
          throw violated("duplicate entries out of creation order: " + reg);
        }
        return append(old, reg);
      });
    }
    r.size++; // single writer
    addHolding(reg);
  }

  /** Replaces the locks {@code pid} holds with {@code change} of them, in whichever form its holdings are. */
  private void changeLocks(Pid pid, java.util.function.UnaryOperator<LockHold[]> change) {
    if (holdings.get(pid) instanceof ManyHoldings m) {
      m.locks = change.apply(m.locks);
    } else {
      Holdings h = holdingsOrEmpty(pid);
      putHoldings(pid, new Holdings(h.registrations(), change.apply(h.locks())));
    }
  }

  private void addHolding(Registration reg) {
    Object v = holdings.get(reg.pid());
    if (v instanceof ManyHoldings m) {
      m.add(reg);
      return;
    }
    Holdings h = expand(v);
    if (h.registrations().length == FEW_MAX) {
      ManyHoldings m = new ManyHoldings(h.registrations(), h.locks());
      m.add(reg);
      holdings.put(reg.pid(), m);
    } else {
      putHoldings(reg.pid(), new Holdings(inCreationOrder(h.registrations(), reg), h.locks()));
    }
  }

  private void removeHolding(Registration reg) {
    Object v = holdings.get(reg.pid());
    if (v instanceof ManyHoldings m) {
      m.remove(reg);
      if (m.count() <= FEW_MAX / 2) { // back to an array, not at once: a pid at the bound does not flip on each change
        putHoldings(reg.pid(), m.toFew());
      }
      return;
    }
    Holdings h = expand(v);
    putHoldings(reg.pid(), new Holdings(without(h.registrations(), reg), h.locks()));
  }

  /** {@code a} in creation order with {@code r} added in its place: at the end unless a store loads out of order. */
  private static Registration[] inCreationOrder(Registration[] a, Registration r) {
    int at = a.length;
    while (at > 0 && BY_CREATION.compare(a[at - 1], r) > 0) {
      at--;
    }
    Registration[] b = new Registration[a.length + 1];
    System.arraycopy(a, 0, b, 0, at);
    b[at] = r;
    System.arraycopy(a, at, b, at + 1, a.length - at);
    return b;
  }

  private void unregister(Registration reg) {
    counted(reg, -1);
    RegistryState r = state(reg.registry().name());
    if (reg.registry().unique()) {
      boolean removed = r.entries.remove(reg.key(), reg);
      if (!removed) {
        throw violated("unregister of a registration that is not current: " + reg);
      }
    } else {
      Object v = r.entries.get(reg.key());
      if (v == null) {
        throw violated("unregister of a missing duplicate entry: " + reg);
      }
      Registration[] rest = without((Registration[]) v, reg);
      if (rest.length != ((Registration[]) v).length - 1) {
        throw violated("unregister of a missing duplicate entry: " + reg);
      }
      if (rest.length == 0) {
        r.entries.remove(reg.key());
      } else {
        r.entries.put(reg.key(), rest);
      }
    }
    r.size--; // single writer
    removeHolding(reg);
  }

  private void replaceHolding(Registration before, Registration after) {
    Object v = holdings.get(before.pid());
    boolean held = v instanceof ManyHoldings m ? m.holds(before)
        : Arrays.stream(expand(v).registrations()).anyMatch(r -> r.sameIdentity(before));
    if (!held) {
      throw violated("value update of a registration its pid does not hold: " + before);
    }
    // the updated registration is created anew (its revision is the update's), so it moves to the end
    removeHolding(before);
    addHolding(after);
  }

  private Holdings holdingsOrEmpty(Pid pid) {
    return expand(holdings.get(pid));
  }

  private void putHoldings(Pid pid, Holdings h) {
    Object v = compact(h);
    if (v == null) {
      holdings.remove(pid);
    } else {
      holdings.put(pid, v);
    }
  }

  private RegistryState state(String registry) {
    RegistryState r = registries.get(registry);
    if (r == null) {
      throw violated("change to a registry that does not exist: " + registry);
    }
    return r;
  }

  private static Registration[] append(Registration[] a, Registration r) {
    Registration[] b = Arrays.copyOf(a, a.length + 1);
    b[a.length] = r;
    return b;
  }

  private static LockHold[] append(LockHold[] a, LockHold l) {
    LockHold[] b = Arrays.copyOf(a, a.length + 1);
    b[a.length] = l;
    return b;
  }

  private static Registration[] without(Registration[] a, Registration r) {
    for (int i = 0; i < a.length; i++) {
      if (a[i].sameIdentity(r)) {
        Registration[] b = new Registration[a.length - 1];
        System.arraycopy(a, 0, b, 0, i);
        System.arraycopy(a, i + 1, b, i, a.length - i - 1);
        return b;
      }
    }
    return a;
  }

  private static LockHold[] without(LockHold[] a, LockHold l) {
    List<LockHold> rest = new ArrayList<>(List.of(a));
    rest.remove(l);
    return rest.toArray(NO_LOCKS);
  }

  /**
   * A broken invariant of the state; a bug, never a user error. The callers build the message only
   * when the invariant fails: on the apply path, every change checks one.
   */
  private static IllegalStateException violated(String message) {
    return new IllegalStateException("mirror invariant violated: " + message);
  }

  // ---------------------------------------------------------------- change streams

  /**
   * The whole state as the changes that would create it, registries first; with
   * {@link #appliedIndex()} read under the same apply lock it is a consistent dump.
   */
  public List<Change> asChanges() {
    List<Change> changes = new ArrayList<>();
    registries.values().forEach(r -> changes.add(new RegistryCreated(r.descriptor)));
    sessions.values().forEach(s -> changes.add(new SessionChanged(s)));
    for (RegistryState r : registries.values()) {
      r.entries.values().forEach(v -> {
        if (v instanceof Registration reg) {
          changes.add(new Registered(reg));
        } else {
          for (Registration reg : (Registration[]) v) {
            changes.add(new Registered(reg));
          }
        }
      });
      r.meta.forEach((k, v) -> changes.add(new MetaPut(r.descriptor.name(), k, v)));
      r.locks.values().forEach(l -> changes.add(new LockAcquired(l)));
    }
    return changes;
  }

  /**
   * Applies one entry received from a voter's change stream (a client node's mirror); returns its
   * changes as decoded, in order.
   *
   * @throws IllegalArgumentException if the changes do not decode or do not fit this mirror's state
   *     (the stream is out of step: reload the whole state)
   */
  public List<Change> applyStreamed(long index, List<io.roster.proto.ChangeProto> protos) {
    List<Change> changes = ChangeCodec.decode(protos, this::registry, pid -> pid);
    try {
      changes.forEach(this::apply);
    } catch (IllegalStateException e) {
      throw new IllegalArgumentException("streamed entry " + index + " does not fit the mirror: " + e.getMessage(), e);
    }
    if (index > appliedIndex) {
      appliedIndex(index);
    }
    return changes;
  }

  /** Moves the applied index forward for entries that changed nothing (streamed mirrors). */
  public void advanceTo(long index) {
    if (index > appliedIndex) {
      appliedIndex(index);
    }
  }

  // ---------------------------------------------------------------- canonical form

  /**
   * A canonical, sorted description of the whole state (one line per fact), for comparing two
   * mirrors: equal descriptions mean equal state. Costs O(state); for tests and diagnostics.
   */
  public TreeSet<String> describe() {
    TreeSet<String> lines = new TreeSet<>();
    Base64.Encoder b64 = Base64.getEncoder();
    for (Map.Entry<String, RegistryState> e : registries.entrySet()) {
      RegistryState r = e.getValue();
      RegistryDescriptor d = r.descriptor;
      lines.add("registry " + d.name() + " " + d.mode() + " p=" + d.partitions() + " k=" + d.maxKeyBytes()
          + " v=" + d.maxValueBytes() + " per-pid=" + d.maxRegistrationsPerPid() + " @" + d.revision());
      r.entries.forEach((key, v) -> {
        Registration[] regs = v instanceof Registration ? new Registration[] {(Registration) v} : (Registration[]) v;
        for (int i = 0; i < regs.length; i++) {
          Registration reg = regs[i];
          lines.add("entry " + d.name() + " " + key + " #" + i + " " + reg.pid() + " "
              + (reg.hasValue() ? b64.encodeToString(reg.valueUnsafe()) : "-") + " @" + reg.index() + "." + reg.ordinal());
        }
      });
      r.meta.forEach((k, v) -> lines.add("meta " + d.name() + " " + k + " " + b64.encodeToString(v)));
      r.locks.forEach((k, l) -> lines.add("lock " + d.name() + " " + k + " " + l.pid() + " @" + l.token()));
    }
    sessions.forEach((n, s) -> lines.add("session " + n + " " + s.incarnation() + (s.expired() ? " expired" : " open")
        + " timeout=" + s.timeoutMillis() + " @" + s.revision()));
    holdings.forEach((pid, v) -> {
      Holdings h = expand(v);
      for (Registration reg : h.registrations()) {
        lines.add("holds " + pid + " " + reg.registry().name() + " " + reg.key() + " @" + reg.index() + "."
            + reg.ordinal());
      }
      for (LockHold l : h.locks()) {
        lines.add("holds-lock " + pid + " " + l.registry() + " " + l.lockKey());
      }
    });
    return lines;
  }
}
