package io.roster.apply;

import io.roster.proto.WriterRecord;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
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
 * entry: a writer whose last entry is {@link #WINDOW_ENTRIES} entries old; a node's oldest writer
 * when that node starts its {@link #PER_NODE_MAX}+1-th (a node has one writer per group for the
 * life of its process: the others are of its earlier processes), so that no node can push out the
 * writers of others; and the oldest writer when {@link #WRITERS_MAX} are known. A retry outlives
 * none of these in practice: a client retries for the span of its request timeout.
 *
 * <p>Not thread-safe: the apply thread owns it.
 */
final class WriterMarks {
  /** A writer silent for this many entries is forgotten. */
  static final long WINDOW_ENTRIES = 1_000_000;
  /** At most this many writers of one node are remembered; its longest silent is forgotten first. */
  static final int PER_NODE_MAX = 16;
  /** At most this many writers are remembered; the longest silent is forgotten first. */
  static final int WRITERS_MAX = 100_000;

  record Key(String nodeId, long writer) {}

  record Mark(long seq, long index) {}

  /** By the index of each writer's last entry, oldest first (an entry has one writer: no ties). */
  private final LinkedHashMap<Key, Mark> marks = new LinkedHashMap<>();
  /** Each node's writers, in the same order. */
  private final Map<String, LinkedHashSet<Key>> byNode = new HashMap<>();

  /** The marks of the writer records a store holds. */
  static WriterMarks of(List<WriterRecord> records) {
    WriterMarks m = new WriterMarks();
    records.stream().sorted(Comparator.comparingLong(WriterRecord::getIndex)).forEach(r ->
        m.applied(new Key(r.getNodeId(), r.getWriter()), r.getSeq(), r.getIndex()));
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
    LinkedHashSet<Key> own = byNode.computeIfAbsent(writer.nodeId(), n -> new LinkedHashSet<>());
    own.remove(writer);
    own.add(writer);
  }

  /**
   * The writers to forget at entry {@code index}, which {@code writer} writes (null: an entry that
   * applies no writer's commands); changes nothing: {@link #forget} them once the entry is stored.
   */
  List<Key> toForget(long index, Key writer) {
    List<Key> out = new ArrayList<>(0);
    boolean added = writer != null && !marks.containsKey(writer);
    int size = marks.size() + (added ? 1 : 0);
    Key ownOldest = null;
    if (added) {
      LinkedHashSet<Key> own = byNode.get(writer.nodeId());
      if (own != null && own.size() >= PER_NODE_MAX) {
        ownOldest = own.iterator().next();
        out.add(ownOldest);
        size--;
      }
    }
    for (Map.Entry<Key, Mark> e : marks.entrySet()) {
      Key k = e.getKey();
      if (k.equals(writer) || k.equals(ownOldest)) {
        continue; // the entry's own writer becomes the newest
      }
      if (e.getValue().index() > index - WINDOW_ENTRIES && size <= WRITERS_MAX) {
        break;
      }
      out.add(k);
      size--;
    }
    return out;
  }

  /** Forgets the writers {@link #toForget} named. */
  void forget(List<Key> writers) {
    for (Key k : writers) {
      marks.remove(k);
      LinkedHashSet<Key> own = byNode.get(k.nodeId());
      if (own != null) {
        own.remove(k);
        if (own.isEmpty()) {
          byNode.remove(k.nodeId());
        }
      }
    }
  }

  int size() {
    return marks.size();
  }
}
