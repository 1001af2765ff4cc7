package io.roster.mirror;

import io.roster.proto.ChangeEntry;
import io.roster.schema.Change;
import io.roster.schema.ChangeCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The recent applied entries that changed state, encoded, for change-stream subscribers. Bounded
 * by entries and bytes: the oldest are dropped, and a subscriber behind them must reload the
 * whole state. Only the apply thread appends; readers are any thread.
 */
public final class ChangeHistory {
  /** Entries kept at most. */
  public static final int ENTRIES_MAX = 100_000;
  /** Encoded bytes kept at most. */
  public static final long BYTES_MAX = 64L * 1024 * 1024;

  /** The entries in index order, from {@code head} on; the dropped prefix is compacted away in bulk. */
  private final ArrayList<ChangeEntry> entries = new ArrayList<>();
  private int head;
  private final int entriesMax;
  private final long bytesMax;
  private long bytes;
  /** Every entry after this index is in the history (if it changed anything). */
  private long completeAfter;
  private long appliedIndex;
  private CompletableFuture<Void> next = new CompletableFuture<>();
  private final Executor notifier;

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
   * {@code ordinals[i]} is the position of the command that made change i.
   */
  public void applied(long index, List<Change> changes, int[] ordinals) {
    append(index, changes.isEmpty() ? null : ChangeCodec.encode(index, changes, ordinals));
  }

  /** Records an applied entry already encoded (a change stream's), or only the index when {@code entry} is null. */
  public void append(long index, ChangeEntry entry) {
    CompletableFuture<Void> woken;
    synchronized (this) {
      appliedIndex = Math.max(appliedIndex, index);
      if (entry != null) {
        entries.add(entry);
        bytes += entry.getSerializedSize();
        while (entries.size() - head > entriesMax || bytes > bytesMax) {
          ChangeEntry dropped = entries.set(head++, null);
          bytes -= dropped.getSerializedSize();
          completeAfter = dropped.getIndex();
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
  public synchronized Slice after(long fromIndex, int max) {
    if (fromIndex < completeAfter) {
      return null;
    }
    int lo = head;
    int hi = entries.size();
    while (lo < hi) { // the first entry after fromIndex: O(log n), however far behind the reader is
      int mid = (lo + hi) >>> 1;
      if (entries.get(mid).getIndex() <= fromIndex) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    int end = (int) Math.min(entries.size(), (long) lo + max);
    long bytes = 0;
    for (int i = lo; i < end; i++) { // and at most ANSWER_BYTES_MAX, but always one entry
      bytes += entries.get(i).getSerializedSize();
      if (bytes > ANSWER_BYTES_MAX && i > lo) {
        end = i;
        break;
      }
    }
    List<ChangeEntry> out = new ArrayList<>(entries.subList(lo, end));
    if (end < entries.size()) {
      return new Slice(out, out.get(out.size() - 1).getIndex());
    }
    return new Slice(out, Math.max(appliedIndex, fromIndex));
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
