package io.roster.internal.write;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.roster.LimitExceededException;
import io.roster.Pid;
import io.roster.internal.BatchSettings;
import io.roster.proto.BatchResult;
import io.roster.proto.Command;
import io.roster.proto.CommandBatch;
import io.roster.proto.Result;
import io.roster.proto.Status;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Group commit against a fake leader that the test answers by hand (its immediate collaborator). */
class GroupCommitTest {
  static final Pid PID = Pid.of("n1", 1, 1);

  record Sent(CommandBatch batch, CompletableFuture<BatchResult> reply) {}

  final List<Sent> sent = new CopyOnWriteArrayList<>();
  GroupCommit gc;

  GroupCommit start(BatchSettings settings) {
    gc = new GroupCommit("test-group-commit", "n1", settings, entry -> {
      CompletableFuture<BatchResult> reply = new CompletableFuture<>();
      Codec.Decoded d = Codec.decodeBatch(ByteString.copyFrom(entry));
      assertThat(d.ok()).isTrue();
      sent.add(new Sent(d.batch(), reply));
      return reply;
    });
    return gc;
  }

  @AfterEach
  void close() {
    gc.close();
  }

  static Command command(int i) {
    return Commands.register("r", "key-" + i, new byte[0], PID);
  }

  /** Answers a sent batch: OK for each command, except NOT_OWNER for the keys named. */
  static BatchResult answer(CommandBatch batch, String failingKey) {
    BatchResult.Builder b = BatchResult.newBuilder();
    for (Command c : batch.getCommandsList()) {
      b.addResults(Result.newBuilder().setRevision(7)
          .setStatus(c.getRegister().getKey().equals(failingKey) ? Status.NOT_OWNER : Status.OK));
    }
    return b.build();
  }

  @Test
  void writesArrivingWhileBatchesAreInFlightLeaveTogetherInTheNextEntry() {
    start(new BatchSettings(256, 256 * 1024, 0, 1000));
    CompletableFuture<Result> first = gc.submit(command(0));
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> sent.size() == 1);
    List<CompletableFuture<Result>> rest = new ArrayList<>();
    for (int i = 1; i <= 100; i++) {
      rest.add(gc.submit(command(i)));
    }
    sent.get(0).reply().complete(answer(sent.get(0).batch(), null));
    assertThat(first.join().getStatus()).isEqualTo(Status.OK);
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> sent.size() == 2);
    assertThat(sent.get(1).batch().getCommandsCount()).as("one entry for the 100 queued writes").isEqualTo(100);
    sent.get(1).reply().complete(answer(sent.get(1).batch(), "key-50"));
    for (int i = 0; i < rest.size(); i++) {
      Status expected = i + 1 == 50 ? Status.NOT_OWNER : Status.OK;
      assertThat(rest.get(i).join().getStatus()).as("write %d", i + 1).isEqualTo(expected);
    }
  }

  @Test
  void batchesRespectTheCommandAndByteBounds() {
    int commandBytes = command(10).getSerializedSize();
    start(new BatchSettings(10, 1024, TimeUnit.MILLISECONDS.toNanos(50), 1000));
    CompletableFuture<Result> blocker = gc.submit(command(999));
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> sent.size() == 1);
    List<CompletableFuture<Result>> queued = new ArrayList<>();
    for (int i = 0; i < 25; i++) {
      queued.add(gc.submit(command(i)));
    }
    for (int answered = 0; answered < sent.size() || queued.stream().anyMatch(f -> !f.isDone()); answered++) {
      int n = answered;
      Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> sent.size() > n);
      Sent s = sent.get(n);
      assertThat(s.batch().getCommandsCount()).isLessThanOrEqualTo(10);
      assertThat(s.batch().getCommandsCount() * commandBytes).isLessThanOrEqualTo(1024);
      s.reply().complete(answer(s.batch(), null));
    }
    assertThat(blocker).isCompleted();
    assertThat(queued).allMatch(f -> f.join().getStatus() == Status.OK);
    assertThat(sent.stream().mapToInt(s -> s.batch().getCommandsCount()).sum()).isEqualTo(26);
  }

  @Test
  void aFailedEntryFailsEveryWriteInItAndTheNextEntryStillGoes() {
    start(new BatchSettings(256, 256 * 1024, 0, 1000));
    CompletableFuture<Result> a = gc.submit(command(1));
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> sent.size() == 1);
    sent.get(0).reply().completeExceptionally(new IllegalStateException("no leader"));
    assertThat(a).isCompletedExceptionally();
    CompletableFuture<Result> b = gc.submit(command(2));
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> sent.size() == 2);
    sent.get(1).reply().complete(answer(sent.get(1).batch(), null));
    assertThat(b.join().getStatus()).isEqualTo(Status.OK);
  }

  @Test
  void aFullQueueRefusesWithAClearError() {
    start(new BatchSettings(1, 1024, 0, 2));
    gc.submit(command(0)); // taken by the flusher, waiting for its reply
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> sent.size() == 1);
    List<CompletableFuture<Result>> more = new ArrayList<>();
    for (int i = 1; i <= 5; i++) {
      more.add(gc.submit(command(i)));
    }
    assertThat(more).filteredOn(CompletableFuture::isCompletedExceptionally).isNotEmpty()
        .allSatisfy(f -> assertThat(f).failsWithin(Duration.ZERO).withThrowableOfType(Exception.class)
            .havingCause().isInstanceOf(LimitExceededException.class).withMessageContaining("write queue is full"));
  }

  @Test
  void aWritePastItsDeadlineFailsWithoutATimerOfItsOwnAndIsNeverSentIfItWasStillQueued() {
    start(new BatchSettings(256, 256 * 1024, 0, 1000));
    long soon = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
    CompletableFuture<Result> flying = gc.submit(command(0), soon);
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> sent.size() == 1);
    CompletableFuture<Result> queued = gc.submit(command(1), soon);
    CompletableFuture<Result> patient = gc.submit(command(2));
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> flying.isDone() && queued.isDone());
    assertThat(flying).failsWithin(Duration.ZERO).withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .withCauseInstanceOf(java.util.concurrent.TimeoutException.class);
    assertThat(queued).failsWithin(Duration.ZERO).withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .withCauseInstanceOf(java.util.concurrent.TimeoutException.class);
    assertThat(System.nanoTime() - soon).as("failed about at the deadline")
        .isGreaterThanOrEqualTo(0).isLessThan(TimeUnit.SECONDS.toNanos(2));
    assertThat(patient).isNotDone();
    sent.get(0).reply().complete(answer(sent.get(0).batch(), null)); // the leader answers late: the first is failed already
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> sent.size() == 2);
    assertThat(sent.get(1).batch().getCommandsList()).as("the write that timed out in the queue is not sent")
        .containsExactly(command(2));
    sent.get(1).reply().complete(answer(sent.get(1).batch(), null));
    assertThat(patient.join().getStatus()).isEqualTo(Status.OK);
    assertThat(gc.submit(command(3), System.nanoTime() - 1)).as("a deadline already past")
        .failsWithin(Duration.ZERO).withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .withCauseInstanceOf(java.util.concurrent.TimeoutException.class);
  }
}
