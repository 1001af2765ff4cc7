package io.roster.internal.messaging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.roster.CallException;
import io.roster.LimitExceededException;
import io.roster.LocalProcess;
import io.roster.internal.NodeConfig;
import io.roster.proto.Frame;
import io.roster.proto.Hello;
import io.roster.schema.Session;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.thirdparty.io.grpc.CallOptions;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyChannelBuilder;
import org.apache.ratis.thirdparty.io.grpc.stub.ClientCalls;
import org.apache.ratis.thirdparty.io.grpc.stub.StreamObserver;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two nodes' message layers over real gRPC on loopback, without Raft: the sessions a mirror would
 * hold are a map here. Backpressure, order, refusals of bad input, failures of calls.
 */
class MessagingUnitTest {
  static final Duration WAIT = Duration.ofSeconds(30);

  final Map<String, Session> sessions = new ConcurrentHashMap<>();
  final ExecutorService threads = Executors.newFixedThreadPool(4);
  ProcessTable aProcesses;
  ProcessTable bProcesses;
  Messaging a;
  Messaging b;
  ManagedChannel raw;

  @BeforeEach
  void start() {
    aProcesses = new ProcessTable("a", 1, threads, pid -> java.util.concurrent.CompletableFuture.completedFuture(null), 5_000);
    bProcesses = new ProcessTable("b", 1, threads, pid -> java.util.concurrent.CompletableFuture.completedFuture(null), 5_000);
    a = new Messaging("a", 1, "127.0.0.1:0", aProcesses, sessions::get, null);
    // a long full-mailbox wait: a loaded machine must not turn the backpressure test into drops
    b = new Messaging("b", 1, "127.0.0.1:0", bProcesses, sessions::get, 120_000, null);
    sessions.put("a", new Session("a", 1, 5_000, false, 1, a.address()));
    sessions.put("b", new Session("b", 1, 5_000, false, 1, b.address()));
  }

  @AfterEach
  void stop() {
    if (raw != null) {
      raw.shutdownNow();
    }
    a.close();
    b.close();
    threads.shutdownNow();
  }

  static byte[] number(int i) {
    return ByteBuffer.allocate(4).putInt(i).array();
  }

  @Test
  void aSlowReceiverSlowsTheSenderAndLosesNothing() throws Exception {
    CountDownLatch open = new CountDownLatch(1);
    List<Integer> received = new CopyOnWriteArrayList<>();
    LocalProcess slow = bProcesses.spawn((self, mail) -> {
      open.await();
      received.add(ByteBuffer.wrap(mail.body()).getInt());
    });
    byte[] padding = new byte[1024];
    int sent = 0;
    // the mailbox fills, then the stream's window, then the sender's queue: the sender is told
    while (true) {
      byte[] body = ByteBuffer.allocate(4 + padding.length).putInt(sent).put(padding).array();
      try {
        assertThat(a.send(slow.pid(), body)).isTrue();
        sent++;
      } catch (LimitExceededException full) {
        assertThat(full).hasMessageContaining("queue to node b is full");
        break;
      }
      assertThat(sent).as("the sender is stopped by a bound").isLessThan(1_000_000);
    }
    assertThat(sent).isGreaterThanOrEqualTo(Messaging.QUEUE_MAX);
    open.countDown();
    int total = sent;
    Awaitility.await("every message arrives").atMost(WAIT).until(() -> received.size() == total);
    for (int i = 0; i < total; i++) {
      assertThat(received.get(i)).isEqualTo(i);
    }
    assertThat(b.dropped()).isZero();
  }

  @Test
  void callsFailAtOnceForDeadCalleesAndOnTimeoutOtherwise() {
    LinkedBlockingQueue<io.roster.Mail> held = new LinkedBlockingQueue<>();
    LocalProcess holder = bProcesses.spawn((self, mail) -> held.add(mail));
    var pending = a.call(holder.pid(), new byte[] {1}, Duration.ofMinutes(1));
    Awaitility.await().atMost(WAIT).until(() -> !held.isEmpty());
    holder.close(); // dies holding the unanswered call
    assertThat(pending).failsWithin(WAIT).withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .havingCause().isInstanceOfSatisfying(CallException.class,
            e -> assertThat(e.reason()).isEqualTo(CallException.Reason.CALLEE_DIED));
    assertThat(a.call(holder.pid(), new byte[] {1}, Duration.ofMinutes(1))).failsWithin(WAIT)
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .havingCause().isInstanceOfSatisfying(CallException.class,
            e -> assertThat(e.reason()).isEqualTo(CallException.Reason.NO_PROCESS));

    LocalProcess silent = bProcesses.spawn((self, mail) -> { });
    assertThat(a.call(silent.pid(), new byte[] {1}, Duration.ofMillis(200))).failsWithin(WAIT)
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .havingCause().isInstanceOfSatisfying(CallException.class,
            e -> assertThat(e.reason()).isEqualTo(CallException.Reason.TIMEOUT));

    // a node incarnation without a session: nobody to reach, said at once
    sessions.remove("b");
    assertThat(a.send(silent.pid(), new byte[] {1})).isFalse();
  }

  @Test
  void aBrokenStreamFailsItsCallsAndTheNextMessageOpensANewOne() throws Exception {
    LinkedBlockingQueue<io.roster.Mail> held = new LinkedBlockingQueue<>();
    LocalProcess holder = bProcesses.spawn((self, mail) -> held.add(mail));
    var pending = a.call(holder.pid(), new byte[] {1}, Duration.ofMinutes(1));
    Awaitility.await().atMost(WAIT).until(() -> !held.isEmpty());
    b.close(); // the node goes away
    assertThat(pending).failsWithin(WAIT).withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .havingCause().isInstanceOfSatisfying(CallException.class,
            e -> assertThat(e.reason()).isEqualTo(CallException.Reason.NODE_UNREACHABLE));
    // b comes back as a new incarnation: a new stream reaches it
    ProcessTable again = new ProcessTable("b", 2, threads, pid -> java.util.concurrent.CompletableFuture.completedFuture(null), 5_000);
    b = new Messaging("b", 2, "127.0.0.1:0", again, sessions::get, null);
    sessions.put("b", new Session("b", 2, 5_000, false, 2, b.address()));
    LocalProcess echo = again.spawn((self, mail) -> mail.reply(mail.body()));
    assertThat(a.call(echo.pid(), new byte[] {7}, WAIT).get(WAIT.toMillis(), TimeUnit.MILLISECONDS))
        .containsExactly(7);
  }

  @Test
  void aStuckProcessDoesNotHoldUpMessagesToOthers() {
    CountDownLatch open = new CountDownLatch(1);
    List<Integer> stuckGot = new CopyOnWriteArrayList<>();
    LocalProcess stuck = bProcesses.spawn((self, mail) -> {
      open.await();
      stuckGot.add(ByteBuffer.wrap(mail.body()).getInt());
    });
    List<Integer> freeGot = new CopyOnWriteArrayList<>();
    LocalProcess free = bProcesses.spawn((self, mail) -> freeGot.add(ByteBuffer.wrap(mail.body()).getInt()));
    int toStuck = ProcessTable.MAILBOX_CAPACITY + 20; // its mailbox fills; the rest is held at b
    for (int i = 0; i < toStuck; i++) {
      assertThat(a.send(stuck.pid(), number(i))).isTrue();
    }
    for (int i = 0; i < 500; i++) {
      assertThat(a.send(free.pid(), number(i))).isTrue();
    }
    Awaitility.await("the free process gets its messages past the stuck one").atMost(WAIT)
        .until(() -> freeGot.size() == 500);
    assertThat(stuckGot).isEmpty();
    open.countDown();
    Awaitility.await("the stuck process gets all of its, in order").atMost(WAIT).until(() -> stuckGot.size() == toStuck);
    for (int i = 0; i < toStuck; i++) {
      assertThat(stuckGot.get(i)).isEqualTo(i);
    }
    assertThat(b.dropped()).isZero();
  }

  @Test
  void aCallerThatTimesOutCancelsTheCallAtTheCallee() throws Exception {
    LinkedBlockingQueue<io.roster.Mail> held = new LinkedBlockingQueue<>();
    LocalProcess holder = bProcesses.spawn((self, mail) -> held.add(mail));
    var pending = a.call(holder.pid(), new byte[] {1}, Duration.ofMillis(300));
    io.roster.Mail call = held.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(call).isNotNull();
    assertThat(pending).failsWithin(WAIT);
    Awaitility.await("the callee forgets the call").atMost(WAIT).until(() -> ((ProcessTable.MailImpl) call).settled());
    assertThat(call.reply(new byte[] {2})).isFalse();
    // a reply larger than a message is refused where it is given
    a.call(holder.pid(), new byte[] {3}, WAIT);
    io.roster.Mail second = held.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertThatThrownBy(() -> second.reply(new byte[Messaging.BODY_BYTES_MAX + 1]))
        .isInstanceOf(LimitExceededException.class);
    assertThat(second.reply(new byte[] {4})).isTrue();
  }

  @Test
  void oversizedMessagesAreRefusedAtTheSender() {
    LocalProcess p = bProcesses.spawn((self, mail) -> { });
    assertThatThrownBy(() -> a.send(p.pid(), new byte[Messaging.BODY_BYTES_MAX + 1]))
        .isInstanceOf(LimitExceededException.class);
    assertThatThrownBy(() -> a.call(p.pid(), new byte[1], Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
  }

  /** Opens a raw stream to b and sends {@code frames}; returns how the stream ended. */
  Status rawStream(byte[]... frames) throws Exception {
    raw = NettyChannelBuilder.forAddress("127.0.0.1", NodeConfig.port(b.address())).usePlaintext().build();
    LinkedBlockingQueue<Status> ended = new LinkedBlockingQueue<>();
    StreamObserver<byte[]> out = ClientCalls.asyncBidiStreamingCall(raw.newCall(Messaging.STREAM, CallOptions.DEFAULT),
        new StreamObserver<>() {
          @Override
          public void onNext(byte[] value) {}

          @Override
          public void onError(Throwable t) {
            ended.add(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            ended.add(Status.OK);
          }
        });
    for (byte[] f : frames) {
      out.onNext(f);
    }
    return ended.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Test
  void badFramesAndWrongGreetingsAreRefusedAndChangeNothing() throws Exception {
    List<byte[]> received = new CopyOnWriteArrayList<>();
    LocalProcess p = bProcesses.spawn((self, mail) -> received.add(mail.body()));
    assertThat(rawStream(new byte[] {(byte) 0xff, 0x01, 0x02}).getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    raw.shutdownNow();
    byte[] wrongIncarnation = Frame.newBuilder().setHello(Hello.newBuilder().setFromNode("x").setToNode("b")
        .setToIncarnation(99)).build().toByteArray();
    assertThat(rawStream(wrongIncarnation).getDescription()).contains("incarnation 1");
    raw.shutdownNow();
    byte[] noHello = Frame.newBuilder().setDeliver(io.roster.proto.Deliver.newBuilder()
        .setTo(io.roster.schema.Codec.toProto(p.pid()))).build().toByteArray();
    assertThat(rawStream(noHello).getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(received).isEmpty();
    // the node still serves well-formed streams
    assertThat(a.send(p.pid(), number(5))).isTrue();
    Awaitility.await().atMost(WAIT).until(() -> received.size() == 1);
    assertThat(p.isAlive()).isTrue();
  }
}
