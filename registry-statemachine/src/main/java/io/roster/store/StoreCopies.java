package io.roster.store;

import com.google.protobuf.UnsafeByteOperations;
import io.roster.proto.QueryResult;
import io.roster.proto.Status;
import io.roster.proto.StoreRecord;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/**
 * Copies of a store's records for {@code roster snapshot save}: each copy reads one point-in-time
 * view of the store, in parts of about {@link #PART_BYTES_MAX} asked for one after the other, and
 * digests what it hands out so that its last part carries the digest of the whole view. A copy is
 * dropped (its view released) {@link #KEEP_MILLIS} after its last ask; at most {@link #COPIES_MAX}
 * are kept at once. Thread-safe; {@link #close} releases every view before the store closes.
 */
public final class StoreCopies {
  public static final int PART_BYTES_MAX = 4 << 20;
  public static final int COPIES_MAX = 2;
  static final long KEEP_MILLIS = 60_000;

  private static final class Held {
    final org.rocksdb.Snapshot view;
    final ReadOptions options;
    final long appliedIndex;
    final StoreDigests.Hasher digest = new StoreDigests.Hasher();
    /** The first key of the next part; null before part 0. */
    byte[] next;
    /** The last part answered, and its number (-1 before part 0). */
    int part = -1;
    QueryResult answered;
    boolean done;
    long touchedNanos;

    Held(org.rocksdb.Snapshot view, long appliedIndex, long now) {
      this.view = view;
      this.options = new ReadOptions().setSnapshot(view);
      this.appliedIndex = appliedIndex;
      this.touchedNanos = now;
    }
  }

  private final RocksDB db;
  private final Path dir;
  private final LongSupplier nanos;
  private final Map<Long, Held> held = new LinkedHashMap<>();
  private boolean closed;

  StoreCopies(RocksDB db, Path dir, LongSupplier nanos) {
    this.db = db;
    this.dir = dir;
    this.nanos = nanos;
  }

  /**
   * Starts copy {@code id} of the store as it is now, which holds the state at {@code appliedIndex}
   * (the caller holds the apply lock, and asks for part 0 after releasing it); a copy of that id
   * held already is left as it is (a retried start).
   *
   * @return the refusal, or null
   */
  synchronized QueryResult start(long id, long appliedIndex) {
    evictIdle();
    if (id == 0) {
      return refusal(Status.INVALID_ARGUMENT, "a store copy needs a random non-zero copy id");
    }
    if (held.containsKey(id)) {
      return null;
    }
    if (closed) {
      return refusal(Status.BUSY, "the store is closing (a snapshot is being installed); start again");
    }
    if (held.size() >= COPIES_MAX) {
      return refusal(Status.BUSY, "this voter is serving " + COPIES_MAX + " store copies; try again later");
    }
    held.put(id, new Held(db.getSnapshot(), appliedIndex, nanos.getAsLong()));
    anyHeld = true;
    return null;
  }

  /** Whether copy {@code id} is held (a part 0 asked for it again is a retried start). */
  synchronized boolean holds(long id) {
    return held.containsKey(id);
  }

  /** Set while any copy is held, so that the store's writes can drop idle ones cheaply. */
  private volatile boolean anyHeld;

  /** Drops the copies not asked for {@link #KEEP_MILLIS}: a saver that went away pins no view for long. */
  void dropIdle() {
    if (anyHeld) {
      synchronized (this) {
        evictIdle();
      }
    }
  }

  /** Part {@code k} of copy {@code id}: the next one, or the last one answered again. */
  synchronized QueryResult part(long id, int k) throws CorruptStoreException {
    evictIdle();
    Held h = closed ? null : held.get(id);
    if (h == null) {
      return refusal(Status.COMPACTED, "store copy " + id + " is gone (not asked for " + KEEP_MILLIS / 1000
          + " s, the store closed for a snapshot install, or it never was); start again");
    }
    h.touchedNanos = nanos.getAsLong();
    if (k == h.part) {
      return h.answered;
    }
    if (k != h.part + 1 || h.done) {
      return refusal(Status.INVALID_ARGUMENT, "store copy " + id + " answered part " + h.part
          + (h.done ? " (its last)" : "") + "; ask for it again or for the next, not for " + k);
    }
    QueryResult.Builder b = QueryResult.newBuilder().setStatus(Status.OK).setAppliedIndex(h.appliedIndex)
        .setDumpId(id);
    int bytes = 0;
    try (RocksIterator it = db.newIterator(h.options)) {
      if (h.next == null) {
        it.seekToFirst();
      } else {
        it.seek(h.next);
      }
      for (; it.isValid(); it.next()) {
        byte[] key = it.key();
        if (StoreKeys.bookkeeping(key)) {
          continue;
        }
        byte[] value = it.value();
        if (bytes > 0 && bytes + key.length + value.length > PART_BYTES_MAX) {
          break; // this record starts the next part
        }
        h.digest.add(key, value);
        b.addRecords(StoreRecord.newBuilder().setKey(UnsafeByteOperations.unsafeWrap(key))
            .setValue(UnsafeByteOperations.unsafeWrap(value)));
        bytes += key.length + value.length;
      }
      it.status(); // an iterator stops early on an error: that is not the end of the data
      if (it.isValid()) {
        h.next = it.key();
      } else {
        h.done = true;
        b.setLast(true).setDigest(h.digest.hex());
        release(h); // the answer stays, for a repeated ask
      }
    } catch (RocksDBException e) {
      held.remove(id);
      release(h);
      throw new CorruptStoreException(dir, e.getMessage(), e);
    }
    h.part = k;
    h.answered = b.build();
    return h.answered;
  }

  /** Releases every copy's view: the store closes next. */
  synchronized void close() {
    closed = true;
    held.values().forEach(this::release);
    held.clear();
    anyHeld = false;
  }

  synchronized int held() {
    return held.size();
  }

  private void evictIdle() {
    long now = nanos.getAsLong();
    for (Iterator<Held> it = held.values().iterator(); it.hasNext(); ) {
      Held h = it.next();
      if (now - h.touchedNanos > TimeUnit.MILLISECONDS.toNanos(KEEP_MILLIS)) {
        release(h);
        it.remove();
      }
    }
    anyHeld = !held.isEmpty();
  }

  private void release(Held h) {
    if (!h.options.isOwningHandle()) {
      return; // released before (its last part)
    }
    h.options.close();
    db.releaseSnapshot(h.view);
  }

  private static QueryResult refusal(Status status, String detail) {
    return QueryResult.newBuilder().setStatus(status).setDetail(detail).build();
  }
}
