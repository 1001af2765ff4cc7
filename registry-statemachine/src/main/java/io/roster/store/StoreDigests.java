package io.roster.store;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/**
 * Digests of a store's state: computed on demand ({@link #of}), or at digest-check entries in the
 * background from a point-in-time view, and kept for the last {@value #KEPT} checks so that peers
 * can ask for them ({@code DigestAt}).
 */
public final class StoreDigests {
  /** Digests kept, by index. */
  public static final int KEPT = 16;

  private final Map<Long, CompletableFuture<String>> byIndex =
      java.util.Collections.synchronizedMap(new java.util.LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, CompletableFuture<String>> eldest) {
          return size() > KEPT;
        }
      });
  /** One background thread, started when there is work and gone when idle. */
  private final java.util.concurrent.ThreadPoolExecutor digester = new java.util.concurrent.ThreadPoolExecutor(0, 1,
      30, java.util.concurrent.TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>(), r -> {
        Thread t = new Thread(r, "roster-digest");
        t.setDaemon(true);
        return t;
      });
  private volatile boolean closing;

  /**
   * Starts computing, in the background, the digest of {@code db} as it is now (just after entry
   * {@code index} was committed): the point-in-time view is taken here, on the apply thread, so the
   * entries applied meanwhile do not change what is digested.
   */
  void start(long index, RocksDB db, Path dir) {
    CompletableFuture<String> result = new CompletableFuture<>();
    byIndex.put(index, result);
    org.rocksdb.Snapshot view = db.getSnapshot();
    try {
      digester.execute(() -> {
        try (ReadOptions at = new ReadOptions().setSnapshot(view)) {
          result.complete(of(db, dir, at, () -> closing));
        } catch (Throwable e) {
          result.completeExceptionally(e);
        } finally {
          db.releaseSnapshot(view);
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      db.releaseSnapshot(view);
      result.completeExceptionally(e);
    }
  }

  /** The digest at digest-check entry {@code index}, or null if there is none for it. */
  CompletableFuture<String> at(long index) {
    return byIndex.get(index);
  }

  /** Stops a digest in progress (at its next few thousand records) and waits for it: then the store may close. */
  void close(Path dir) {
    closing = true;
    digester.shutdown();
    try {
      if (!digester.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS)) {
        throw new IllegalStateException("the digest of " + dir + " did not stop");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * SHA-256 over every record of {@code db} as {@code at} sees it, but the applied index and the
   * format version, in key order; {@code stop} ends it early (a {@code CancellationException}).
   *
   * @throws CorruptStoreException if RocksDB reports an error while reading
   */
  static String of(RocksDB db, Path dir, ReadOptions at, java.util.function.BooleanSupplier stop)
      throws CorruptStoreException {
    Hasher sha = new Hasher();
    long records = 0;
    try (RocksIterator it = db.newIterator(at)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        if ((++records & 0xFFF) == 0 && stop.getAsBoolean()) {
          throw new java.util.concurrent.CancellationException("the store at " + dir + " is closing");
        }
        byte[] k = it.key();
        if (!StoreKeys.bookkeeping(k)) {
          sha.add(k, it.value());
        }
      }
      it.status();
    } catch (RocksDBException e) {
      throw new CorruptStoreException(dir, e.getMessage(), e);
    }
    return sha.hex();
  }

  /**
   * The digest of a state, fed its records (bookkeeping records left out) in key order: SHA-256
   * over each key and value, each preceded by its length (4 bytes, big-endian).
   */
  public static final class Hasher {
    private final java.security.MessageDigest sha;
    private final byte[] length = new byte[4];

    public Hasher() {
      try {
        sha = java.security.MessageDigest.getInstance("SHA-256");
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e); // every Java platform has SHA-256
      }
    }

    public void add(byte[] key, byte[] value) {
      sha.update(ByteBuffer.wrap(length).putInt(0, key.length).array());
      sha.update(key);
      sha.update(ByteBuffer.wrap(length).putInt(0, value.length).array());
      sha.update(value);
    }

    /** The digest of what was added; call once (it resets the hasher). */
    public String hex() {
      return java.util.HexFormat.of().formatHex(sha.digest());
    }
  }
}
