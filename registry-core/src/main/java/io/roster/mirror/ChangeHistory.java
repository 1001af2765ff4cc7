package io.roster.mirror;

import io.roster.proto.ChangeEntry;
import io.roster.schema.Change;
import io.roster.schema.ChangeCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The recent applied entries that changed state, for change-stream subscribers and watchers.
 * Bounded by entries and bytes: the oldest are dropped, and a subscriber behind them must reload
 * the whole state. Only the apply thread appends; readers are any thread.
 *
 * <p>While no reader has asked for entries for {@link #READER_IDLE_NANOS}, an entry is kept as the
 * changes the core decided, and encoded for the wire only if a reader comes and asks for it: a
 * voter that serves no change stream does not encode, and what it keeps is one small record per
 * change around registrations its mirror holds anyway, not a tree of messages that every young
 * collection copies. While readers come, the appending thread encodes each entry as it is
 * recorded, so a waiting reader's answer (completed on the notifier, which wakes every other
 * waiter too) has nothing left to encode. The byte bound counts an estimate of an entry's encoded
 * size until it is encoded.
 */
public final class ChangeHistory {
  /** Entries kept at most. */
  public static final int ENTRIES_MAX = 100_000;
  /** Encoded bytes kept at most. */
  public static final long BYTES_MAX = 64L * 1024 * 1024;
  /** How long after a reader's last request entries are still encoded as they are recorded. */
  static final long READER_IDLE_NANOS = 10_000_000_000L;

  /** The entries in index order, from {@code head} on; the dropped prefix is compacted away in bulk. */
  private final ArrayList<Item> entries = new ArrayList<>();
  private int head;
  private final int entriesMax;
  private final long bytesMax;
  private long bytes;
  /** Every entry after this index is in the history (if it changed anything). */
  private long completeAfter;
  private long appliedIndex;
  private CompletableFuture<Void> next = new CompletableFuture<>();
  private final Executor notifier;
  /** When a reader last asked for entries ({@link System#nanoTime}); long ago at first. */
  private volatile long readNanos = System.nanoTime() - 2 * READER_IDLE_NANOS;

  /**
   * One entry: its changes until a reader asks for it encoded, then the encoding. Changes and the
   * registrations they hold are immutable, so any thread may encode them.
   */
  private static final class Item {
    final long index;
    /** What the history counts for this entry: the encoded size, or its estimate until encoded. */
    final long bytes;
    private List<Change> changes;
    private int[] ordinals;
    private ChangeEntry encoded;

    Item(long index, List<Change> changes, int[] ordinals) {
      this.index = index;
      this.changes = changes;
      this.ordinals = ordinals;
      this.bytes = estimatedSize(changes);
    }

    Item(ChangeEntry encoded) {
      this.index = encoded.getIndex();
      this.encoded = encoded;
      this.bytes = encoded.getSerializedSize();
    }

    synchronized ChangeEntry entry() {
      if (encoded == null) {
        encoded = ChangeCodec.encode(index, changes, ordinals);
        changes = null;
        ordinals = null;
      }
      return encoded;
    }
  }

  /** {@code notifier} completes the futures of {@link #nextChange()}: never the appending thread, never under a lock. */
  public ChangeHistory(int entriesMax, long bytesMax, Executor notifier) {
    this.entriesMax = entriesMax;
    this.bytesMax = bytesMax;
    this.notifier = notifier;
  }

  /** Forgets everything: the history is complete only after {@code index} (a restart or snapshot install). */
  public void reset(long index) {
    CompletableFuture<Void> woken;
    synchronized (this) {
      entries.clear();
      head = 0;
      bytes = 0;
      completeAfter = index;
      appliedIndex = index;
      woken = swapNext();
    }
    wake(woken);
  }

  /** Records an applied entry whose changes all came from its first command; {@code changes} may be empty. */
  public void applied(long index, List<Change> changes) {
    applied(index, changes, null);
  }

  /**
   * Records an applied entry; {@code changes} may be empty (the index still advances), and
   * {@code ordinals[i]} is the position of the command that made change i. Neither may change
   * after this call: they are encoded when a reader first asks for the entry.
   */
  public void applied(long index, List<Change> changes, int[] ordinals) {
    applied(index, changes, ordinals, null);
  }

  /**
   * {@link #applied(long, List, int[])} for an entry that arrived encoded ({@code encoded}, which
   * a change stream's receiver has at hand; null if none): kept as it is while readers come, so it
   * is never encoded twice. Called by the apply thread only; throws nothing.
   */
  public void applied(long index, List<Change> changes, int[] ordinals, ChangeEntry encoded) {
    if (changes.isEmpty()) {
      add(index, null);
    } else if (System.nanoTime() - readNanos < READER_IDLE_NANOS) {
      add(index, new Item(encoded != null ? encoded : ChangeCodec.encode(index, changes, ordinals)));
    } else {
      add(index, new Item(index, changes, ordinals));
    }
  }

  /** Records an applied entry already encoded (a change stream's), or only the index when {@code entry} is null. */
  public void append(long index, ChangeEntry entry) {
    add(index, entry == null ? null : new Item(entry));
  }

  private void add(long index, Item item) {
    CompletableFuture<Void> woken;
    synchronized (this) {
      appliedIndex = Math.max(appliedIndex, index);
      if (item != null) {
        entries.add(item);
        bytes += item.bytes;
        while (entries.size() - head > entriesMax || bytes > bytesMax) {
          Item dropped = entries.set(head++, null);
          bytes -= dropped.bytes;
          completeAfter = dropped.index;
        }
        if (head > 1024 && head > entries.size() / 2) { // drop the dead prefix, amortized O(1) per entry
          entries.subList(0, head).clear();
          head = 0;
        }
      }
      woken = swapNext();
    }
    wake(woken);
  }

  /**
   * About the bytes an entry of these changes takes encoded: its strings and values and a
   * record's fields for each change. Only the history's byte bound uses it.
   */
  static long estimatedSize(List<Change> changes) {
    long n = 8;
    for (Change c : changes) {
      n += 40;
      if (c instanceof Change.Registered r) {
        n += estimatedSize(r.registration());
      } else if (c instanceof Change.Unregistered r) {
        n += estimatedSize(r.registration());
      } else if (c instanceof Change.ValueUpdated u) {
        n += estimatedSize(u.before()) + estimatedSize(u.after());
      } else if (c instanceof Change.MetaPut m) {
        n += m.registry().length() + m.key().length() + m.value().length;
      } else if (c instanceof Change.MetaDeleted m) {
        n += m.registry().length() + m.key().length();
      } else if (c instanceof Change.LockAcquired l) {
        n += estimatedSize(l.lock());
      } else if (c instanceof Change.LockReleased l) {
        n += estimatedSize(l.lock());
      } else {
        n += 64; // a registry created, a session changed: a few fields
      }
    }
    return n;
  }

  private static long estimatedSize(io.roster.schema.LockHold l) {
    return l.registry().length() + l.lockKey().length() + l.pid().nodeId().length();
  }

  private static long estimatedSize(io.roster.schema.Registration r) {
    byte[] value = r.valueUnsafe();
    return 24 + r.registry().name().length() + r.key().length() + r.pid().nodeId().length()
        + (value == null ? 0 : value.length);
  }

  private CompletableFuture<Void> swapNext() {
    CompletableFuture<Void> woken = next;
    next = new CompletableFuture<>();
    return woken;
  }

  private void wake(CompletableFuture<Void> woken) {
    if (!woken.isDone() && woken.getNumberOfDependents() > 0) {
      notifier.execute(() -> woken.complete(null));
    } else {
      woken.complete(null);
    }
  }

  /**
   * Entries after an index, and the index a reader is at once it applied them: the last entry's if
   * the answer was cut at the maximum, else the applied index.
   */
  public record Slice(List<ChangeEntry> entries, long appliedIndex) {}

  /** The bytes of entries one answer carries at most (one entry always goes, whatever its size). */
  public static final int ANSWER_BYTES_MAX = 4 << 20;

  /**
   * The entries after {@code fromIndex}, at most {@code max} and about {@link #ANSWER_BYTES_MAX};
   * null if {@code fromIndex} is older than the history.
   */
  public Slice after(long fromIndex, int max) {
    readNanos = System.nanoTime();
    List<Item> items;
    boolean more;
    long applied;
    synchronized (this) {
      if (fromIndex < completeAfter) {
        return null;
      }
      int lo = head;
      int hi = entries.size();
      while (lo < hi) { // the first entry after fromIndex: O(log n), however far behind the reader is
        int mid = (lo + hi) >>> 1;
        if (entries.get(mid).index <= fromIndex) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      int end = (int) Math.min(entries.size(), (long) lo + max);
      long counted = 0;
      for (int i = lo; i < end; i++) { // about ANSWER_BYTES_MAX by what the history counts
        counted += entries.get(i).bytes;
        if (counted > ANSWER_BYTES_MAX && i > lo) {
          end = i;
          break;
        }
      }
      items = new ArrayList<>(entries.subList(lo, end));
      more = end < entries.size();
      applied = Math.max(appliedIndex, fromIndex);
    }
    // encoded outside the lock: the apply thread appends meanwhile; at most ANSWER_BYTES_MAX, but always one entry
    List<ChangeEntry> out = new ArrayList<>(items.size());
    long encodedBytes = 0;
    for (Item item : items) {
      ChangeEntry e = item.entry();
      encodedBytes += e.getSerializedSize();
      if (encodedBytes > ANSWER_BYTES_MAX && !out.isEmpty()) {
        more = true;
        break;
      }
      out.add(e);
    }
    if (more) {
      return new Slice(out, out.isEmpty() ? fromIndex : out.get(out.size() - 1).getIndex());
    }
    return new Slice(out, applied);
  }

  /** The oldest index a reader may resume after: older ones are compacted away. */
  public synchronized long completeAfter() {
    return completeAfter;
  }

  /** The index of the last applied entry this history has seen (changed state or not). */
  public synchronized long appliedIndex() {
    return appliedIndex;
  }

  /** Completes at the next append or reset. */
  public synchronized CompletableFuture<Void> nextChange() {
    return next;
  }
}
