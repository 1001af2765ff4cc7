package io.roster.ratis;

import io.roster.proto.ChangeEntry;
import io.roster.proto.ChangeProto;
import io.roster.proto.QueryResult;
import io.roster.proto.Status;
import io.roster.schema.Change;
import io.roster.schema.ChangeCodec;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * A voter's dumps of its whole state for client nodes' first loads, in chunks of about
 * {@link #CHUNK_BYTES_MAX}: a dump is taken at one applied index, kept while its reader asks for
 * its chunks (at most {@link #KEEP_MILLIS} between two asks), and at most {@link #DUMPS_MAX} are
 * kept at once. So a Raft message never carries the whole state, and a reader that stops asking
 * costs nothing after a minute. Thread-safe.
 */
final class Dumps {
  static final int CHUNK_BYTES_MAX = 4 << 20;
  static final int DUMPS_MAX = 4;
  static final long KEEP_MILLIS = 60_000;

  private record Held(long appliedIndex, List<ChangeEntry> chunks, long touchedNanos) {}

  private final Map<Long, Held> held = new LinkedHashMap<>();
  private final LongSupplier nanos;
  private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

  Dumps(LongSupplier nanos) {
    this.nanos = nanos;
  }

  /** Whether a dump can start now: checked before the state is copied for it. */
  synchronized boolean room() {
    evictExpired();
    return held.size() < DUMPS_MAX;
  }

  /** Starts a dump of {@code changes} (the state at {@code appliedIndex}) and answers its chunk 0. */
  synchronized QueryResult start(long appliedIndex, List<Change> changes) {
    evictExpired();
    if (held.size() >= DUMPS_MAX) {
      return QueryResult.newBuilder().setStatus(Status.BUSY)
          .setDetail("this voter is serving " + DUMPS_MAX + " dumps; try another voter or later").build();
    }
    List<ChangeEntry> chunks = new ArrayList<>();
    ChangeEntry.Builder chunk = ChangeEntry.newBuilder().setIndex(appliedIndex);
    int bytes = 0;
    for (Change c : changes) {
      ChangeProto p = ChangeCodec.encode(c);
      if (bytes > 0 && bytes + p.getSerializedSize() > CHUNK_BYTES_MAX) {
        chunks.add(chunk.build());
        chunk = ChangeEntry.newBuilder().setIndex(appliedIndex);
        bytes = 0;
      }
      chunk.addChanges(p);
      bytes += p.getSerializedSize();
    }
    chunks.add(chunk.build());
    long id;
    do {
      id = RANDOM.nextLong() & Long.MAX_VALUE; // not guessable: one reader cannot take or end another's dump
    } while (id == 0 || held.containsKey(id));
    held.put(id, new Held(appliedIndex, List.copyOf(chunks), nanos.getAsLong()));
    return chunk(id, 0);
  }

  /** Chunk {@code k} of dump {@code id}; COMPACTED if the dump is gone (start again). */
  synchronized QueryResult chunk(long id, int k) {
    evictExpired();
    Held h = held.get(id);
    if (h == null) {
      return QueryResult.newBuilder().setStatus(Status.COMPACTED)
          .setDetail("dump " + id + " is gone (not asked for " + KEEP_MILLIS + " ms, or never was); start again").build();
    }
    if (k < 0 || k >= h.chunks().size()) {
      return QueryResult.newBuilder().setStatus(Status.INVALID_ARGUMENT)
          .setDetail("dump " + id + " has " + h.chunks().size() + " chunks, not " + k).build();
    }
    boolean last = k == h.chunks().size() - 1;
    if (last) {
      held.remove(id); // read whole
    } else {
      held.put(id, new Held(h.appliedIndex(), h.chunks(), nanos.getAsLong()));
    }
    return QueryResult.newBuilder().setStatus(Status.OK).setAppliedIndex(h.appliedIndex()).setDumpId(id)
        .setChunks(h.chunks().size()).addChangeEntries(h.chunks().get(k)).build();
  }

  private void evictExpired() {
    long now = nanos.getAsLong();
    for (Iterator<Held> it = held.values().iterator(); it.hasNext(); ) {
      if (now - it.next().touchedNanos() > TimeUnit.MILLISECONDS.toNanos(KEEP_MILLIS)) {
        it.remove();
      }
    }
  }

  synchronized int held() {
    return held.size();
  }
}
