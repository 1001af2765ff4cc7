package io.roster.apply;

import io.roster.proto.WriterRecord;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The last entry a replica applied from each writer ({@link io.roster.proto.WriterTag}): its seq
 * and its index, oldest index first.
 *
 * <p>An entry can reach the log twice: a leader that steps down fails the requests it holds, and
 * the client's retry (the same call id) is appended again once a leader is elected, whether or not
 * the first copy is in its log; Ratis' retry cache knows only the entries its own leader applied.
 * A writer keeps one entry in flight and numbers them, so a replica applies a writer's entry only
 * if its seq is above the writer's last: a repeat of the last entry is answered with that entry's
 * results, an older one with {@link io.roster.proto.Status#REPLAYED}.
 *
 * <p>Forgetting is part of the state, so every replica forgets the same writers at the same
 * entry: a writer whose last entry is {@link #WINDOW_ENTRIES} entries old, or the oldest when more
 * than {@link #WRITERS_MAX} are known. A retry outlives neither: a client retries for the span of
 * its request timeout.
 *
 * <p>Not thread-safe: the apply thread owns it.
 */
final class WriterMarks {
  /** A writer silent for this many entries is forgotten. */
  static final long WINDOW_ENTRIES = 1_000_000;
  /** At most this many writers are remembered; the longest silent is forgotten first. */
  static final int WRITERS_MAX = 100_000;

  record Key(String nodeId, long writer) {}

  record Mark(long seq, long index) {}

  /** By the index of each writer's last entry, oldest first (an entry has one writer: no ties). */
  private final LinkedHashMap<Key, Mark> marks = new LinkedHashMap<>();

  /** The marks of the writer records a store holds. */
  static WriterMarks of(List<WriterRecord> records) {
    WriterMarks m = new WriterMarks();
    records.stream().sorted(Comparator.comparingLong(WriterRecord::getIndex)).forEach(r ->
        m.marks.put(new Key(r.getNodeId(), r.getWriter()), new Mark(r.getSeq(), r.getIndex())));
    return m;
  }

  /** The last entry applied from {@code writer}, or null if none is remembered. */
  Mark last(Key writer) {
    return marks.get(writer);
  }

  /** {@code writer}'s entry {@code seq} is applied at {@code index}, the newest entry. */
  void applied(Key writer, long seq, long index) {
    marks.remove(writer);
    marks.put(writer, new Mark(seq, index));
  }

  /** Forgets, and returns, the writers not to remember at entry {@code index} (before it applies). */
  List<Key> forget(long index) {
    List<Key> forgotten = new ArrayList<>(0);
    Iterator<Map.Entry<Key, Mark>> it = marks.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<Key, Mark> oldest = it.next();
      if (oldest.getValue().index() > index - WINDOW_ENTRIES && marks.size() < WRITERS_MAX) {
        break;
      }
      forgotten.add(oldest.getKey());
      it.remove();
    }
    return forgotten;
  }

  int size() {
    return marks.size();
  }
}
