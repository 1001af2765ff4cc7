package io.roster.store;

import static io.roster.store.StoreKeys.WRITER;

import com.google.protobuf.InvalidProtocolBufferException;
import io.roster.proto.WriterRecord;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

/**
 * The store's records of writers' last entries ({@code W} + writer number + node id, a
 * {@link WriterRecord} each): the log's bookkeeping that lets a replica skip an entry appended
 * twice ({@code io.roster.apply.WriterMarks}). Written in the batch of the entry they record, so
 * they always match the applied index.
 *
 * <p>Not thread-safe: the apply thread owns it.
 */
public final class WriterRecords {
  private final RocksDB db;
  private final Path dir;

  WriterRecords(RocksDB db, Path dir) {
    this.db = db;
    this.dir = dir;
  }

  /** Adds to the entry's batch the record of its writer's last entry (this one). */
  public void stage(WriteBatch batch, WriterRecord writer) throws RocksDBException {
    batch.put(StoreKeys.writerKey(writer.getNodeId(), writer.getWriter()), writer.toByteArray());
  }

  /** Adds to the entry's batch the removal of a writer's record (a writer forgotten). */
  public void unstage(WriteBatch batch, String nodeId, long writer) throws RocksDBException {
    batch.delete(StoreKeys.writerKey(nodeId, writer));
  }

  /**
   * The record of a writer's last entry, or null if the store has none.
   *
   * @throws CorruptStoreException if it cannot be read or does not decode
   */
  public WriterRecord get(String nodeId, long writer) throws CorruptStoreException {
    try {
      byte[] v = db.get(StoreKeys.writerKey(nodeId, writer));
      return v == null ? null : WriterRecord.parseFrom(v);
    } catch (RocksDBException | InvalidProtocolBufferException e) {
      throw new CorruptStoreException(dir, "a writer record cannot be read: " + e.getMessage(), e);
    }
  }

  /**
   * Every writer's last entry, without its results: node id, writer, seq and index.
   *
   * @throws CorruptStoreException if a record does not decode or is filed under another writer's key
   */
  public List<WriterRecord> all() throws CorruptStoreException {
    List<WriterRecord> writers = new ArrayList<>();
    try (RocksIterator it = db.newIterator()) {
      for (it.seek(new byte[] {WRITER}); it.isValid() && it.key()[0] == WRITER; it.next()) {
        WriterRecord w = WriterRecord.parseFrom(it.value());
        if (!Arrays.equals(it.key(), StoreKeys.writerKey(w.getNodeId(), w.getWriter()))) {
          throw new IllegalStateException("the writer record under key " + HexFormat.of().formatHex(it.key())
              + " is the record of another writer");
        }
        writers.add(w.toBuilder().clearResult().build());
      }
      it.status();
    } catch (RocksDBException | InvalidProtocolBufferException | RuntimeException e) {
      throw new CorruptStoreException(dir, e.getMessage(), e);
    }
    return writers;
  }
}
