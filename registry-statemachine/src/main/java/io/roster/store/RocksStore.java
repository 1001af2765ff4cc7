package io.roster.store;

// This file is long because it owns the database handle: opening and checking it, the layout of
// every state record, loading the mirror, checkpoints and verification. What needs the handle but
// not the layout lives beside it: StoreCopies (backups), StoreDigests, WriterRecords.

import static io.roster.store.StoreKeys.APPLIED_KEY;
import static io.roster.store.StoreKeys.DUPLICATE;
import static io.roster.store.StoreKeys.FORMAT_KEY;
import static io.roster.store.StoreKeys.LOCK;
import static io.roster.store.StoreKeys.META;
import static io.roster.store.StoreKeys.REGISTRY;
import static io.roster.store.StoreKeys.SESSION;
import static io.roster.store.StoreKeys.UNIQUE;
import static io.roster.store.StoreKeys.entryKey;
import static io.roster.store.StoreKeys.key;
import static io.roster.store.StoreKeys.rest;
import static io.roster.store.StoreKeys.stateKey;
import static io.roster.store.StoreKeys.string;

import com.google.protobuf.InvalidProtocolBufferException;
import io.roster.Pid;
import io.roster.mirror.Mirror;
import io.roster.proto.AppliedRecord;
import io.roster.proto.LockRecord;
import io.roster.proto.RegistrationRecord;
import io.roster.proto.RegistryRecord;
import io.roster.proto.SessionRecord;
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
import io.roster.schema.Records;
import io.roster.schema.RegistryDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.rocksdb.Checkpoint;
import org.rocksdb.FlushOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The durable applied state: one RocksDB database with one column family.
 *
 * <p><b>Durability.</b> RocksDB's WAL is off: the Raft log is the write-ahead log. Each Raft entry's
 * changes and the applied (term, index) go into one {@link WriteBatch}, so whatever RocksDB has
 * persisted (after a flush, or a crash at any point) is the state after some entry, together with
 * that entry's index. On restart Ratis replays the log from the latest snapshot; entries at or
 * below {@link #appliedIndex()} are skipped, so none is applied twice and none is lost.
 *
 * <p><b>Layout.</b> One byte of record type, then length-prefixed UTF-8 names:
 * {@code G name} registry; {@code U reg key} unique entry; {@code D reg key revision ordinal}
 * duplicate entry (big-endian, so iteration yields creation order); {@code M reg key} metadata;
 * {@code L reg key} lock; {@code S node} session; {@code W writer node} a writer's last entry
 * ({@link io.roster.proto.WriterRecord}); {@code A} applied term/index; {@code V} format.
 *
 * <p>Not thread-safe: the apply thread owns it.
 */
public final class RocksStore implements AutoCloseable {
  /** Version of the on-disk layout; a store of another version is refused. */
  static final int FORMAT_VERSION = 1;

  static {
    RocksDB.loadLibrary();
  }

  private final Path dir;
  private final Options options;
  private final WriteOptions writeOptions;
  private final RocksDB db;
  private long appliedIndex;
  /** Copies of the records for backups ({@code roster snapshot save}). */
  private final StoreCopies copies;
  private final WriterRecords writers;

  private RocksStore(Path dir, Options options, WriteOptions writeOptions, RocksDB db) {
    this.dir = dir;
    this.options = options;
    this.writeOptions = writeOptions;
    this.db = db;
    this.copies = new StoreCopies(db, dir, System::nanoTime);
    this.writers = new WriterRecords(db, dir);
  }

  private static final long WRITE_BUFFER_BYTES = 16L << 20;

  /** Opens (creating if missing) the store in {@code dir}. */
  public static RocksStore open(Path dir) throws IOException {
    Files.createDirectories(dir);
    // Without a WAL, what a crash loses is the memtables, and the node replays those entries from
    // the Raft log at restart: 16 MiB memtables (not the default 64) bound that replay (about
    // 150k small registrations, by their encoded size).
    // Paranoid checks: a checksum or consistency error stops the database instead of being read
    // past, and every SST file written (flush, compaction) is read back once before it is used.
    Options options = new Options().setCreateIfMissing(true).setAvoidFlushDuringShutdown(false)
        .setWriteBufferSize(WRITE_BUFFER_BYTES).setParanoidChecks(true).setParanoidFileChecks(true)
        .setForceConsistencyChecks(true);
    WriteOptions writeOptions = new WriteOptions().setDisableWAL(true);
    RocksDB db;
    try {
      db = RocksDB.open(options, dir.toString());
    } catch (RocksDBException e) {
      options.close();
      writeOptions.close();
      throw new IOException("cannot open the store at " + dir + ": " + e.getMessage(), e);
    }
    RocksStore store = new RocksStore(dir, options, writeOptions, db);
    try {
      store.verifyChecksums();
      store.checkFormat();
      store.readApplied();
    } catch (IOException | RuntimeException e) {
      store.close();
      throw e;
    }
    return store;
  }

  /** Reads every block of every SST file and checks its checksum. */
  private void verifyChecksums() throws CorruptStoreException {
    try {
      db.verifyChecksum();
    } catch (RocksDBException e) {
      throw new CorruptStoreException(dir, e.getMessage(), e);
    }
  }

  private void checkFormat() throws IOException {
    byte[] v = get(FORMAT_KEY);
    if (v == null) {
      put(FORMAT_KEY, ByteBuffer.allocate(4).putInt(FORMAT_VERSION).array());
      return;
    }
    int version = ByteBuffer.wrap(v).getInt();
    if (version != FORMAT_VERSION) {
      throw new IOException("store at " + dir + " has format " + version + "; this build reads " + FORMAT_VERSION);
    }
  }

  private void readApplied() throws IOException {
    byte[] v = get(APPLIED_KEY);
    if (v != null) {
      AppliedRecord a = AppliedRecord.parseFrom(v);
      appliedIndex = a.getIndex();
    }
  }

  public Path dir() {
    return dir;
  }

  /** The index of the last Raft entry whose changes are in this store (0 if none). */
  public long appliedIndex() {
    return appliedIndex;
  }

  /** Adds one change to the batch of the entry being applied. */
  public void stage(WriteBatch batch, Change change) throws RocksDBException {
    if (change instanceof RegistryCreated c) {
      batch.put(key(REGISTRY, c.registry().name()), Records.of(c.registry()).toByteArray());
    } else if (change instanceof Registered c) {
      batch.put(entryKey(c.registration()), Records.of(c.registration()).toByteArray());
    } else if (change instanceof Unregistered c) {
      batch.delete(entryKey(c.registration()));
    } else if (change instanceof ValueUpdated c) {
      batch.put(entryKey(c.after()), Records.of(c.after()).toByteArray());
    } else if (change instanceof MetaPut c) {
      batch.put(key(META, c.registry(), c.key()), c.value());
    } else if (change instanceof MetaDeleted c) {
      batch.delete(key(META, c.registry(), c.key()));
    } else if (change instanceof SessionChanged c) {
      batch.put(key(SESSION, c.session().nodeId()), Records.of(c.session()).toByteArray());
    } else if (change instanceof LockAcquired c) {
      batch.put(key(LOCK, c.lock().registry(), c.lock().lockKey()), Records.of(c.lock()).toByteArray());
    } else if (change instanceof LockReleased c) {
      batch.delete(key(LOCK, c.lock().registry(), c.lock().lockKey()));
    } else {
      throw new IllegalArgumentException("unknown change " + change);
    }
  }

  /** The records of writers' last entries (see {@link WriterRecords}). */
  public WriterRecords writers() {
    return writers;
  }

  /** Writes the entry's batch together with its (term, index), atomically. */
  public void commit(WriteBatch batch, long term, long index) throws RocksDBException {
    if (index <= appliedIndex) {
      // Invariant: revisions only grow.
      throw new IllegalStateException("entry " + index + " is not after the applied index " + appliedIndex);
    }
    batch.put(APPLIED_KEY, AppliedRecord.newBuilder().setTerm(term).setIndex(index).build().toByteArray());
    db.write(writeOptions, batch);
    appliedIndex = index;
    copies.dropIdle();
  }

  /**
   * Records that everything up to (term, index) is applied when the entries after the stored index
   * changed no state (configuration and metadata entries), so a snapshot taken at that index
   * carries it.
   */
  public void markApplied(long term, long index) throws IOException {
    if (index > appliedIndex) {
      put(APPLIED_KEY, AppliedRecord.newBuilder().setTerm(term).setIndex(index).build().toByteArray());
      appliedIndex = index;
    }
  }

  /** Persists the memtable (the WAL is off, so this is what makes applied state survive a crash). */
  public void flush() throws IOException {
    try (FlushOptions f = new FlushOptions().setWaitForFlush(true)) {
      db.flush(f);
    } catch (RocksDBException e) {
      throw new IOException("flush of " + dir + " failed: " + e.getMessage(), e);
    }
  }

  /** Flushes, then writes a consistent checkpoint (hard links where possible) to {@code target}, which must not exist. */
  public void checkpoint(Path target) throws IOException {
    flush();
    try (Checkpoint c = Checkpoint.create(db)) {
      c.createCheckpoint(target.toString());
    } catch (RocksDBException e) {
      throw new IOException("checkpoint to " + target + " failed: " + e.getMessage(), e);
    }
  }

  /** Builds a mirror from the stored state. */
  public Mirror load() throws IOException {
    Mirror mirror = new Mirror();
    Map<String, RegistryDescriptor> registries = new HashMap<>();
    Map<Pid, Pid> pids = new HashMap<>(); // one instance per pid
    Map<String, String> nodeIds = new HashMap<>(); // one string per node id
    java.util.function.UnaryOperator<Pid> intern = p -> pids.computeIfAbsent(p,
        q -> Pid.of(nodeIds.computeIfAbsent(q.nodeId(), id -> id), q.incarnation(), q.serial()));
    try (RocksIterator it = db.newIterator()) {
      // Registries first: entries of every kind refer to them, and 'D' sorts before 'G'.
      for (it.seek(new byte[] {REGISTRY}); it.isValid() && it.key()[0] == REGISTRY; it.next()) {
        byte[] k = it.key();
        String name = new String(k, 1, k.length - 1, StandardCharsets.UTF_8);
        RegistryDescriptor d = Records.descriptor(name, RegistryRecord.parseFrom(it.value()));
        registries.put(name, d);
        mirror.apply(new RegistryCreated(d));
      }
      it.status(); // an iterator stops early on an error: that is not the end of the data
      for (it.seekToFirst(); it.isValid(); it.next()) {
        byte[] k = it.key();
        byte[] v = it.value();
        ByteBuffer b = ByteBuffer.wrap(k, 1, k.length - 1);
        switch (k[0]) {
          case UNIQUE, DUPLICATE -> {
            String registry = string(b);
            RegistryDescriptor d = registries.get(registry);
            if (d == null) {
              throw new IllegalStateException("entry of the unknown registry '" + registry + "'");
            }
            String key = string(b);
            mirror.apply(new Registered(Records.registration(d, key, RegistrationRecord.parseFrom(v), intern)));
          }
          case META -> mirror.apply(new MetaPut(string(b), rest(b), v));
          case LOCK -> {
            String registry = string(b);
            mirror.apply(new LockAcquired(Records.lock(registry, rest(b), LockRecord.parseFrom(v), intern)));
          }
          case SESSION -> {
            mirror.apply(new SessionChanged(Records.session(rest(b), SessionRecord.parseFrom(v))));
          }
          default -> { } // 'G' (loaded above), 'W' (WriterRecords), 'A' and 'V'
        }
      }
      it.status();
    } catch (RocksDBException | InvalidProtocolBufferException | RuntimeException e) {
      throw new CorruptStoreException(dir, e.getMessage(), e);
    }
    mirror.appliedIndex(appliedIndex);
    return mirror;
  }

  /**
   * A digest of the state this store holds: SHA-256 over every record but the applied index and the
   * format version, in key order. Two replicas that applied the same entries have the same digest.
   */
  public String digest() throws CorruptStoreException {
    try (org.rocksdb.ReadOptions now = new org.rocksdb.ReadOptions()) {
      return StoreDigests.of(db, dir, now, () -> false);
    }
  }

  /** Digests of the state at digest-check entries, computed in the background. */
  private final StoreDigests digests = new StoreDigests();

  /** See {@link StoreDigests#start}. */
  public void digestInBackground(long index) {
    digests.start(index, db, dir);
  }

  /** The digest of the state at digest-check entry {@code index}, or null if this store has none for it. */
  public java.util.concurrent.CompletableFuture<String> digestAt(long index) {
    return digests.at(index);
  }

  /** See {@link StoreCopies#start}. */
  public io.roster.proto.QueryResult copyStart(long id, long appliedIndex) {
    return copies.start(id, appliedIndex);
  }

  /** See {@link StoreCopies#holds}. */
  public boolean copyHeld(long id) {
    return copies.holds(id);
  }

  /** Starts copy {@code id} and answers its part 0 (for tests, which hold no lock). */
  public io.roster.proto.QueryResult copyFirst(long id, long appliedIndex) throws CorruptStoreException {
    io.roster.proto.QueryResult refused = copies.start(id, appliedIndex);
    return refused != null ? refused : copies.part(id, 0);
  }

  /** See {@link StoreCopies#part}. */
  public io.roster.proto.QueryResult copyPart(long id, int part) throws CorruptStoreException {
    return copies.part(id, part);
  }

  /**
   * Adds records read from a backup to this store (a fresh one, being seeded): they must be state
   * records, not the bookkeeping ones.
   */
  public void importRecords(java.util.List<io.roster.proto.StoreRecord> records) throws IOException {
    try (WriteBatch batch = new WriteBatch()) {
      for (io.roster.proto.StoreRecord r : records) {
        byte[] key = r.getKey().toByteArray();
        if (!stateKey(key)) {
          throw new IllegalArgumentException("a backup record has the key " + java.util.HexFormat.of().formatHex(key)
              + ", which is not a state record's");
        }
        batch.put(key, r.getValue().toByteArray());
      }
      db.write(writeOptions, batch);
    } catch (RocksDBException e) {
      throw new IOException("cannot write to the store at " + dir + ": " + e.getMessage(), e);
    }
  }

  /** What {@link #verify} found in a checkpoint: its applied index and its state's digest. */
  public record Verified(long appliedIndex, String digest) {}

  /**
   * Opens the checkpoint in {@code dir} read-only, checks the checksum of every block and computes
   * its digest.
   *
   * @throws CorruptStoreException naming the damaged file when RocksDB does
   */
  public static Verified verify(Path dir) throws IOException {
    try (Options options = new Options().setParanoidChecks(true);
        RocksDB db = RocksDB.openReadOnly(options, dir.toString())) {
      db.verifyChecksum();
      byte[] applied = db.get(APPLIED_KEY);
      long index = applied == null ? 0 : AppliedRecord.parseFrom(applied).getIndex();
      try (org.rocksdb.ReadOptions now = new org.rocksdb.ReadOptions()) {
        return new Verified(index, StoreDigests.of(db, dir, now, () -> false));
      }
    } catch (RocksDBException | InvalidProtocolBufferException e) {
      throw new CorruptStoreException(dir, e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    digests.close(dir); // before the database: a digest in progress reads it
    copies.close(); // likewise the views of copies in progress
    db.close();
    writeOptions.close();
    options.close();
  }

  // ---------------------------------------------------------------- encoding

  private byte[] get(byte[] key) throws IOException {
    try {
      return db.get(key);
    } catch (RocksDBException e) {
      throw new IOException("read from " + dir + " failed: " + e.getMessage(), e);
    }
  }

  private void put(byte[] key, byte[] value) throws IOException {
    try {
      db.put(writeOptions, key, value);
    } catch (RocksDBException e) {
      throw new IOException("write to " + dir + " failed: " + e.getMessage(), e);
    }
  }
}
