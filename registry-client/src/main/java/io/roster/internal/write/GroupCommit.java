package io.roster.internal.write;

import io.roster.LimitExceededException;
import io.roster.RosterException;
import io.roster.internal.BatchSettings;
import io.roster.proto.BatchResult;
import io.roster.proto.Command;
import io.roster.proto.Result;
import io.roster.schema.Codec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit: the writes of this node that arrive together travel in one Raft entry.
 *
 * <p>A flusher thread takes the first queued command, then keeps taking more while they come
 * within {@code lingerNanos} of each other, up to {@code commandsMax} commands or {@code bytesMax}
 * bytes, and sends the batch. One batch is outstanding at a time: while it is, new writes pile up
 * in the queue and leave in the next, larger batch, and a node's entries reach the log in the order
 * it made them (a process's registrations before its removal, a session before its first write),
 * whatever leader change a batch meets on its way. So an idle node sends each
 * write almost at once and a busy one sends few, large entries. Each command gets its own result;
 * one command's error does not fail its batch-mates. The queue is bounded: a full queue refuses
 * the write with {@link LimitExceededException}.
 *
 * <p>Each write has a deadline, and the flusher keeps them all: while it waits for the batch in
 * flight to finish it wakes at the earliest deadline of that batch and the queue (and at least
 * every {@value #SWEEP_MILLIS} ms) and fails what is past its deadline with a
 * {@link TimeoutException}. A write that times out in the queue is never sent. So a write costs no
 * timer of its own (a scheduled task each, in the JDK's shared delay queue, was about 7% of a busy
 * client node's Java samples), and one that waited in a queue is failed at most
 * {@value #SWEEP_MILLIS} ms after its deadline.
 *
 * <p>Each entry carries this group commit's writer tag: the node id, a random writer number for the
 * life of this object and the entry's seq, one higher for each entry sent. A retry of an entry
 * sends the same bytes, so a peer applies the entry once however many times it reaches the log
 * (see {@link io.roster.proto.WriterTag}); and an entry given up on that reaches the log after a
 * later one changes nothing.
 */
final class GroupCommit implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(GroupCommit.class);
  private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

  /** The longest the flusher waits for the batch in flight without looking at the deadlines. */
  static final long SWEEP_MILLIS = 100;

  private record Pending(Command command, int bytes, long deadlineNanos, CompletableFuture<Result> result) {
    boolean expired(long now) {
      return deadlineNanos - now <= 0;
    }
  }

  private final BatchSettings settings;
  private final Function<byte[], CompletableFuture<BatchResult>> send;
  private final ArrayBlockingQueue<Pending> queue;
  /** One permit: the batch in flight. */
  private final Semaphore inFlight = new Semaphore(1);
  private final Thread flusher;
  private volatile boolean closed;
  private volatile Pending carried; // taken from the queue but left for the next batch (it did not fit)
  private final String nodeId;
  /** This group commit's writer number: random, positive. */
  private final long writer;
  /** The seq of the last entry sent (flusher thread only). */
  private long seq;
  /** The writes of the batch in flight (flusher thread only): their deadlines are kept while it flies. */
  private List<Pending> flying = List.of();

  /**
   * {@code send} ships one encoded entry and completes with its results; the entries are tagged as
   * written by node {@code nodeId}.
   */
  GroupCommit(String name, String nodeId, BatchSettings settings, Function<byte[], CompletableFuture<BatchResult>> send) {
    this.nodeId = nodeId;
    long w;
    do {
      w = RANDOM.nextLong() & Long.MAX_VALUE;
    } while (w == 0);
    this.writer = w;
    this.settings = settings;
    this.send = send;
    this.queue = new ArrayBlockingQueue<>(settings.queueMax());
    this.flusher = new Thread(this::flushLoop, name);
    this.flusher.setDaemon(true);
    this.flusher.start();
  }

  /** {@link #submit(Command, long)} with a deadline a day away. */
  CompletableFuture<Result> submit(Command command) {
    return submit(command, System.nanoTime() + TimeUnit.DAYS.toNanos(1));
  }

  /**
   * Queues a command for the next batch; completes with its own result, or with a
   * {@link TimeoutException} if it has none by {@code deadlineNanos} ({@link System#nanoTime}).
   */
  CompletableFuture<Result> submit(Command command, long deadlineNanos) {
    CompletableFuture<Result> result = new CompletableFuture<>();
    if (closed) {
      result.completeExceptionally(new IllegalStateException("the writer is closed"));
      return result;
    }
    int bytes = command.getSerializedSize();
    if (bytes > settings.bytesMax()) {
      result.completeExceptionally(new LimitExceededException(
          "command is " + bytes + " bytes; a batch holds at most " + settings.bytesMax()));
      return result;
    }
    if (deadlineNanos - System.nanoTime() <= 0) {
      result.completeExceptionally(new TimeoutException("the deadline passed before the write was queued"));
      return result;
    }
    if (!queue.offer(new Pending(command, bytes, deadlineNanos, result))) {
      result.completeExceptionally(new LimitExceededException(
          "write queue is full (" + settings.queueMax() + " commands waiting for the leader)"));
    }
    return result;
  }

  private void flushLoop() {
    while (!closed) {
      try {
        acquireSlot(); // first the slot, then the batch: writes keep piling up while one is in flight
        List<Pending> batch;
        try {
          batch = nextBatch();
        } catch (InterruptedException | RuntimeException e) {
          inFlight.release();
          throw e;
        }
        ship(batch);
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        LOG.error("group commit flusher failed; continuing", e);
      }
    }
  }

  /** Waits for the batch in flight to finish, failing the writes whose deadline passes meanwhile. */
  private void acquireSlot() throws InterruptedException {
    if (inFlight.tryAcquire()) {
      return;
    }
    while (true) {
      long wait = expire(System.nanoTime());
      if (inFlight.tryAcquire(Math.min(wait, TimeUnit.MILLISECONDS.toNanos(SWEEP_MILLIS)), TimeUnit.NANOSECONDS)) {
        return;
      }
    }
  }

  /** Fails the writes in flight or queued whose deadline is past; returns the nanos until the next deadline. */
  private long expire(long now) {
    long next = Long.MAX_VALUE;
    for (Pending p : flying) {
      next = Math.min(next, expire(p, now));
    }
    Pending c = carried;
    if (c != null) {
      next = Math.min(next, expire(c, now));
    }
    for (Object o : queue.toArray()) {
      next = Math.min(next, expire((Pending) o, now)); // failed ones stay queued, and are skipped when taken
    }
    return next;
  }

  private static long expire(Pending p, long now) {
    if (p.result().isDone()) {
      return Long.MAX_VALUE;
    }
    if (p.expired(now)) {
      p.result().completeExceptionally(new TimeoutException("no result by the write's deadline"));
      return Long.MAX_VALUE;
    }
    return p.deadlineNanos() - now;
  }

  /** The next queued write still waiting for a result (one that timed out in the queue is dropped). */
  private Pending poll(long lingerNanos) throws InterruptedException {
    while (true) {
      Pending p = lingerNanos == 0 ? queue.poll() : queue.poll(lingerNanos, TimeUnit.NANOSECONDS);
      if (p == null || !p.result().isDone()) {
        return p;
      }
    }
  }

  /** Blocks for the first command, then gathers what follows within the linger, up to the bounds. */
  private List<Pending> nextBatch() throws InterruptedException {
    List<Pending> batch = new ArrayList<>();
    Pending first = carried;
    carried = null;
    while (first == null || first.result().isDone()) {
      first = queue.take();
    }
    batch.add(first);
    int bytes = first.bytes();
    while (batch.size() < settings.commandsMax()) {
      Pending next = poll(settings.lingerNanos());
      if (next == null) {
        break;
      }
      if (bytes + next.bytes() > settings.bytesMax()) {
        carried = next;
        break;
      }
      batch.add(next);
      bytes += next.bytes();
    }
    return batch;
  }

  /** Learns each batch's command count as it is sent (metrics); the default does nothing. */
  void onBatch(java.util.function.IntConsumer listener) {
    this.batchListener = listener;
  }

  private volatile java.util.function.IntConsumer batchListener = n -> { };

  /** The writes waiting for a batch (the group-commit queue; not those of the batch in flight). */
  int queued() {
    return queue.size() + (carried != null ? 1 : 0);
  }

  private void ship(List<Pending> batch) {
    batchListener.accept(batch.size());
    List<Command> commands = new ArrayList<>(batch.size());
    for (Pending p : batch) {
      commands.add(p.command());
    }
    flying = batch;
    CompletableFuture<BatchResult> sent;
    try {
      sent = send.apply(Codec.encode(Codec.batchOf(commands, nodeId, writer, ++seq)));
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    sent.whenComplete((results, error) -> {
      inFlight.release();
      if (error != null) {
        batch.forEach(p -> p.result().completeExceptionally(error));
      } else if (results.getResultsCount() != batch.size()) {
        // a single error result: the leader refused the whole entry
        RosterException e = new RosterException("the entry was refused: "
            + (results.getResultsCount() == 0 ? "no result" : results.getResults(0).getStatus() + " "
            + results.getResults(0).getDetail()));
        batch.forEach(p -> p.result().completeExceptionally(e));
      } else {
        for (int i = 0; i < batch.size(); i++) {
          batch.get(i).result().complete(results.getResults(i));
        }
      }
    });
  }

  /** Stops the flusher; queued writes fail. */
  @Override
  public void close() {
    closed = true;
    flusher.interrupt();
    IllegalStateException e = new IllegalStateException("the writer is closed");
    Pending p;
    while ((p = queue.poll()) != null) {
      p.result().completeExceptionally(e);
    }
    if (carried != null) {
      carried.result().completeExceptionally(e);
    }
  }
}
