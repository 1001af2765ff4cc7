package io.roster.apply;

import com.google.protobuf.ByteString;
import io.roster.core.RegistryCore.Outcome;
import io.roster.core.RegistryCore;
import io.roster.mirror.Mirror;
import io.roster.proto.BatchResult;
import io.roster.proto.Command;
import io.roster.proto.CommandBatch;
import io.roster.proto.Result;
import io.roster.proto.Status;
import io.roster.proto.WriterRecord;
import io.roster.proto.WriterTag;
import io.roster.schema.Change;
import io.roster.schema.Codec;
import io.roster.schema.Revisions;
import io.roster.store.CorruptStoreException;
import io.roster.store.RocksStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The applied state of one peer: the pure {@link RegistryCore} deciding, the {@link Mirror} serving
 * reads, the {@link RocksStore} keeping it durable. Applies Raft entries in log order.
 *
 * <p>For each entry: decode (bad bytes become an error result and change nothing), decide each
 * command against the mirror, apply its changes to the mirror at once (so later commands of the
 * same entry see them) and stage them in one write batch, then commit the batch with the entry's
 * index. Entries at or below the stored applied index were applied before a restart and are
 * skipped. An entry whose writer tag says it repeats one applied before changes nothing and is
 * answered with that entry's results (see {@link WriterMarks}). A store write failure is fatal for this peer ({@link IllegalStateException}): the mirror
 * may then be ahead of the store, and the peer must be restarted, which rebuilds it from the store.
 *
 * <p>Not thread-safe: one thread applies. The mirror may be read from any thread.
 */
public final class Replica implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Replica.class);

  private final RegistryCore core = new RegistryCore();
  private final RocksStore store;
  private final Mirror mirror;
  private final AppliedListener listener;
  private final WriterMarks writers;

  private Replica(RocksStore store, Mirror mirror, AppliedListener listener, WriterMarks writers) {
    this.store = store;
    this.mirror = mirror;
    this.listener = listener;
    this.writers = writers;
  }

  /** Opens the store in {@code dir} and loads its mirror. */
  public static Replica open(Path dir) throws IOException {
    return open(dir, (index, changes, ordinals) -> { });
  }

  /**
   * Opens the store in {@code dir} and loads its mirror; {@code listener} sees every entry applied
   * after opening.
   */
  public static Replica open(Path dir, AppliedListener listener) throws IOException {
    RocksStore store = RocksStore.open(dir);
    try {
      return new Replica(store, store.load(), listener, WriterMarks.of(store.writers().all()));
    } catch (IOException | RuntimeException e) {
      store.close();
      throw e;
    }
  }

  public Mirror mirror() {
    return mirror;
  }

  public RocksStore store() {
    return store;
  }

  public long appliedIndex() {
    return store.appliedIndex();
  }

  /**
   * Applies one Raft entry.
   *
   * @return one result per command, or a single error result if the entry does not decode; a
   *     single {@link Status#REPLAYED} result if the entry was applied before (at or below the
   *     applied index, or an older entry of its writer); the first copy's results if it repeats its
   *     writer's last entry
   */
  public BatchResult applyEntry(ByteString data, long term, long index) {
    return applyEntry(data, term, index, null);
  }

  /**
   * Applies one Raft entry whose commands may have been decoded already: on the leader, from the
   * same bytes, when the request was checked before it reached the log (frame, CRC, limits). The
   * entry is then not decoded a second time.
   *
   * @param decodedBefore the entry's batch as decoded from {@code data}, or null to decode {@code data} here
   */
  public BatchResult applyEntry(ByteString data, long term, long index, CommandBatch decodedBefore) {
    if (index <= store.appliedIndex()) {
      return BatchResult.newBuilder()
          .addResults(Result.newBuilder().setStatus(Status.REPLAYED).setRevision(Revisions.of(index, 0)))
          .build();
    }
    Codec.Decoded decoded = decodedBefore != null ? new Codec.Decoded(decodedBefore, null, null) : Codec.decodeBatch(data);
    BatchResult.Builder results = BatchResult.newBuilder();
    List<Change> applied = new ArrayList<>();
    Ordinals ordinals = new Ordinals();
    List<WriterMarks.Key> forgotten;
    WriterMarks.Key writer = null;
    WriterTag tag = null;
    boolean repeat = false;
    try (WriteBatch batch = new WriteBatch()) {
      if (decoded.ok() && decoded.batch().hasWriter()) {
        tag = decoded.batch().getWriter();
        writer = new WriterMarks.Key(tag.getNodeId(), tag.getWriter());
        WriterMarks.Mark last = writers.last(writer);
        repeat = last != null && tag.getSeq() <= last.seq();
        if (repeat) {
          results.mergeFrom(repeated(tag, last, index));
        }
      }
      forgotten = writers.toForget(index, repeat ? null : writer);
      for (WriterMarks.Key k : forgotten) {
        store.writers().unstage(batch, k.nodeId(), k.writer());
      }
      if (repeat) {
        // changes nothing but the applied index
      } else if (decoded.ok()) {
        applyCommands(decoded.batch(), term, index, batch, results, applied, ordinals);
        if (writer != null) {
          store.writers().stage(batch, WriterRecord.newBuilder().setNodeId(tag.getNodeId()).setWriter(tag.getWriter())
              .setSeq(tag.getSeq()).setIndex(index).setResult(kept(results)).build());
        }
      } else {
        LOG.warn("entry {} rejected: {}", index, decoded.errorDetail());
        results.mergeFrom(Codec.rejected(decoded, index));
      }
      store.commit(batch, term, index);
      if (decoded.ok() && !repeat && hasDigestCheck(decoded.batch())) {
        store.digestInBackground(index);
        digestChecks.accept(index);
      }
    } catch (CorruptStoreException e) {
      throw new IllegalStateException("entry " + index + ": " + e.getMessage() + "; this peer must stop", e);
    } catch (RocksDBException | IOException e) {
      throw new IllegalStateException("store write of entry " + index + " failed; this peer must restart", e);
    }
    // the marks change once the store holds the entry
    writers.forget(forgotten);
    if (writer != null && !repeat) {
      writers.applied(writer, tag.getSeq(), index);
    }
    mirror.appliedIndex(index);
    listener.applied(index, applied, ordinals.toArray());
    return results.build();
  }

  /**
   * The answer to an entry that repeats one its writer sent before (see {@link WriterMarks}): the
   * results of the writer's last entry if it repeats that one, else a single REPLAYED result.
   */
  private BatchResult repeated(WriterTag tag, WriterMarks.Mark last, long index) throws IOException {
    LOG.debug("entry {} repeats entry {} of writer {}/{} (applied at {}); skipped", index, tag.getSeq(),
        tag.getNodeId(), tag.getWriter(), last.index());
    if (tag.getSeq() == last.seq()) {
      WriterRecord record = store.writers().get(tag.getNodeId(), tag.getWriter());
      if (record == null || record.getSeq() != last.seq()) {
        throw new CorruptStoreException(store.dir(), "the store has no record of writer " + tag.getNodeId() + "/"
            + tag.getWriter() + " at seq " + last.seq() + ", which this replica applied at " + last.index(), null);
      }
      if (record.getResult().getResultsCount() > 0) {
        return record.getResult();
      }
    }
    return BatchResult.newBuilder().addResults(Result.newBuilder().setStatus(Status.REPLAYED)
        .setRevision(Revisions.of(index, 0)).setDetail("the entry repeats entry " + tag.getSeq() + " of its writer, "
            + (tag.getSeq() == last.seq() ? "applied before (its results are too large to keep)"
            : "which was applied before that writer's entry " + last.seq()) + "; it changed nothing"))
        .build();
  }

  /** Results kept for a repeat of an entry at most: beyond, the details go, then the results. */
  static final int KEPT_RESULT_BYTES_MAX = 64 * 1024;

  /**
   * The results of a writer's entry as its record keeps them, to answer a repeat: without the
   * values update_value and put_meta return (up to 256 KiB each; a repeat's caller has them), and
   * beyond {@link #KEPT_RESULT_BYTES_MAX} without details, or empty (a repeat is then answered REPLAYED).
   */
  static BatchResult kept(BatchResult.Builder results) {
    BatchResult.Builder kept = BatchResult.newBuilder();
    for (Result r : results.getResultsList()) {
      kept.addResults(r.getOldValue().isEmpty() && r.getNewValue().isEmpty() ? r
          : r.toBuilder().clearOldValue().clearNewValue().build());
    }
    if (kept.build().getSerializedSize() <= KEPT_RESULT_BYTES_MAX) {
      return kept.build();
    }
    for (Result.Builder r : kept.getResultsBuilderList()) {
      r.clearDetail();
    }
    return kept.build().getSerializedSize() <= KEPT_RESULT_BYTES_MAX ? kept.build() : BatchResult.getDefaultInstance();
  }

  private volatile java.util.function.LongConsumer digestChecks = index -> { };

  /** {@code listener} learns the index of every digest-check entry applied, on the apply thread. */
  public void onDigestCheck(java.util.function.LongConsumer listener) {
    this.digestChecks = listener;
  }

  private static boolean hasDigestCheck(CommandBatch commands) {
    for (Command c : commands.getCommandsList()) {
      if (c.hasDigestCheck()) {
        return true;
      }
    }
    return false;
  }

  /** The ordinal of each applied change's command, in change order. */
  private static final class Ordinals {
    private int[] values = new int[8];
    private int size;

    void add(int ordinal, int times) {
      if (size + times > values.length) {
        values = java.util.Arrays.copyOf(values, Math.max(values.length * 2, size + times));
      }
      java.util.Arrays.fill(values, size, size + times, ordinal);
      size += times;
    }

    int[] toArray() {
      return size == values.length ? values : java.util.Arrays.copyOf(values, size);
    }
  }

  private void applyCommands(CommandBatch commands, long term, long index, WriteBatch batch, BatchResult.Builder results,
      List<Change> applied, Ordinals ordinals) throws RocksDBException {
    for (int ordinal = 0; ordinal < commands.getCommandsCount(); ordinal++) {
      Command command = commands.getCommands(ordinal);
      Outcome outcome;
      try {
        outcome = core.apply(mirror, command, term, index, ordinal);
      } catch (RuntimeException e) {
        // A bug in the core; deterministic, so every peer answers the same. Nothing was changed.
        LOG.error("command {}.{} failed in the core", index, ordinal, e);
        // the detail names the exception's class only: its message may differ between JVMs, and results are
        // replicated state (a writer's record keeps them)
        outcome = new Outcome(Result.newBuilder().setStatus(Status.INTERNAL_ERROR).setRevision(Revisions.of(index, ordinal))
            .setDetail("internal error: " + e.getClass().getName()).build(), List.of());
      }
      for (Change change : outcome.changes()) {
        mirror.apply(change);
        store.stage(batch, change);
      }
      applied.addAll(outcome.changes());
      ordinals.add(ordinal, outcome.changes().size());
      results.addResults(outcome.result());
    }
  }

  /**
   * Marks everything up to (term, index) as applied when the entries since the last applied one
   * changed no state (Raft configuration entries).
   */
  public void markApplied(long term, long index) throws IOException {
    store.markApplied(term, index);
    if (index > mirror.appliedIndex()) {
      mirror.appliedIndex(index);
    }
  }

  @Override
  public void close() {
    store.close();
  }
}
