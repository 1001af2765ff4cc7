package io.roster.statemachine;

import io.roster.statemachine.proto.ChangeEntry;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The recent applied entries that changed state, encoded, for change-stream subscribers. Bounded
 * by entries and bytes: the oldest are dropped, and a subscriber behind them must reload the
 * whole state. Only the apply thread appends; readers are any thread.
 */
public final class ChangeHistory {
  public static final int ENTRIES_MAX = 100_000;
  public static final long BYTES_MAX = 64L * 1024 * 1024;

  private final ArrayDeque<ChangeEntry> entries = new ArrayDeque<>();
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
      bytes = 0;
      completeAfter = index;
      appliedIndex = index;
      woken = swapNext();
    }
    wake(woken);
  }

  /** Records an applied entry; {@code changes} may be empty (the index still advances). */
  public void applied(long index, List<Change> changes) {
    append(index, changes.isEmpty() ? null : ChangeCodec.encode(index, changes));
  }

  /** Records an applied entry already encoded (a change stream's), or only the index when {@code entry} is null. */
  public void append(long index, ChangeEntry entry) {
    CompletableFuture<Void> woken;
    synchronized (this) {
      appliedIndex = Math.max(appliedIndex, index);
      if (entry != null) {
        entries.addLast(entry);
        bytes += entry.getSerializedSize();
        while (entries.size() > entriesMax || bytes > bytesMax) {
          ChangeEntry dropped = entries.removeFirst();
          bytes -= dropped.getSerializedSize();
          completeAfter = dropped.getIndex();
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

  /** The entries after {@code fromIndex}, at most {@code max}; null if {@code fromIndex} is older than the history. */
  public synchronized Slice after(long fromIndex, int max) {
    if (fromIndex < completeAfter) {
      return null;
    }
    List<ChangeEntry> out = new ArrayList<>();
    Iterator<ChangeEntry> it = entries.descendingIterator();
    while (it.hasNext()) { // newest first: stop at the first one at or before fromIndex
      ChangeEntry e = it.next();
      if (e.getIndex() <= fromIndex) {
        break;
      }
      out.add(e);
    }
    java.util.Collections.reverse(out);
    if (out.size() > max) {
      List<ChangeEntry> cut = new ArrayList<>(out.subList(0, max));
      return new Slice(cut, cut.get(max - 1).getIndex());
    }
    return new Slice(out, Math.max(appliedIndex, fromIndex));
  }

  /** The oldest index a reader may resume after: older ones are compacted away. */
  public synchronized long completeAfter() {
    return completeAfter;
  }

  public synchronized long appliedIndex() {
    return appliedIndex;
  }

  /** Completes at the next append or reset. */
  public synchronized CompletableFuture<Void> nextChange() {
    return next;
  }
}
