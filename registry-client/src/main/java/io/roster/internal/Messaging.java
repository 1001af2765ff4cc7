package io.roster.internal;

import io.roster.CallException;
import io.roster.LimitExceededException;
import io.roster.Pid;
import io.roster.RosterException;
import io.roster.statemachine.Codec;
import io.roster.statemachine.Session;
import io.roster.statemachine.proto.Deliver;
import io.roster.statemachine.proto.Frame;
import io.roster.statemachine.proto.Hello;
import io.roster.statemachine.proto.Reply;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.apache.ratis.thirdparty.io.grpc.CallOptions;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.MethodDescriptor;
import org.apache.ratis.thirdparty.io.grpc.Server;
import org.apache.ratis.thirdparty.io.grpc.ServerServiceDefinition;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyChannelBuilder;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyServerBuilder;
import org.apache.ratis.thirdparty.io.grpc.stub.ClientCallStreamObserver;
import org.apache.ratis.thirdparty.io.grpc.stub.ClientCalls;
import org.apache.ratis.thirdparty.io.grpc.stub.ClientResponseObserver;
import org.apache.ratis.thirdparty.io.grpc.stub.ServerCallStreamObserver;
import org.apache.ratis.thirdparty.io.grpc.stub.ServerCalls;
import org.apache.ratis.thirdparty.io.grpc.stub.StreamObserver;
import com.google.protobuf.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Messages between the processes of different nodes, over the gRPC that Ratis ships (shaded).
 *
 * <p>Each node serves one bidirectional-streaming method. A node that sends to another opens one
 * channel and one stream to it (to that node incarnation, at the address its session publishes) and
 * sends every message for that node through it, from a bounded queue drained as gRPC's flow control
 * allows: one HTTP/2 stream delivers in order, so messages from one node to another arrive in the
 * order they were sent. The receiver answers calls, and refusals of calls, on the same stream. A
 * stream that breaks fails its calls at once; the next message opens a new one.
 *
 * <p>Frames are protobuf ({@code roster/v1/messaging.proto}); bodies are the application's bytes.
 */
final class Messaging implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Messaging.class);
  /** The largest message body. */
  static final int BODY_BYTES_MAX = 4 << 20;
  private static final int FRAME_BYTES_MAX = BODY_BYTES_MAX + 64 * 1024;
  /** Frames waiting for one node's stream; a sender beyond it gets LimitExceededException. */
  static final int QUEUE_MAX = 10_000;
  /** Frames a receiver takes from one stream ahead of delivering them (gRPC flow control does the rest). */
  private static final int INBOUND_WINDOW = 64;
  /** How long a message waits at the head of a stream for room in a full mailbox before it is dropped. */
  static final long FULL_MAILBOX_WAIT_MILLIS = 10_000;

  private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  static final MethodDescriptor<byte[], byte[]> STREAM = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
      .setFullMethodName(MethodDescriptor.generateFullMethodName("roster.v1.Messaging", "Stream"))
      .setRequestMarshaller(BYTES)
      .setResponseMarshaller(BYTES)
      .build();

  private final String nodeId;
  private final long incarnation;
  private final ProcessTable processes;
  /** The session of a node, from the cluster's mirror: where its current incarnation listens. */
  private final Function<String, Session> sessions;
  private final Server server;
  private final String address;
  private final Map<String, Peer> peers = new ConcurrentHashMap<>();
  private final AtomicLong callIds = new AtomicLong();
  private final AtomicLong dropped = new AtomicLong();
  /** Retries deliveries into full mailboxes. */
  private final java.util.concurrent.ScheduledExecutorService retries;
  private volatile boolean closed;

  /** Starts serving on {@code bindAddress} (host:port; port 0 picks a free one). */
  Messaging(String nodeId, long incarnation, String bindAddress, ProcessTable processes,
      Function<String, Session> sessions) {
    this.nodeId = nodeId;
    this.incarnation = incarnation;
    this.processes = processes;
    this.sessions = sessions;
    String host = NodeConfig.host(bindAddress);
    this.retries = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "roster-" + nodeId + "-mailbox-retries");
      t.setDaemon(true);
      return t;
    });
    ServerServiceDefinition service = ServerServiceDefinition.builder("roster.v1.Messaging")
        .addMethod(STREAM, ServerCalls.asyncBidiStreamingCall(out -> {
          ServerCallStreamObserver<byte[]> stream = (ServerCallStreamObserver<byte[]>) out;
          stream.disableAutoRequest(); // frames are taken as fast as mailboxes take them
          Inbound inbound = new Inbound(stream);
          stream.request(INBOUND_WINDOW);
          return inbound;
        }))
        .build();
    try {
      this.server = NettyServerBuilder.forAddress(new InetSocketAddress(host, NodeConfig.port(bindAddress)))
          .addService(service)
          .maxInboundMessageSize(FRAME_BYTES_MAX)
          .build()
          .start();
    } catch (IOException e) {
      retries.shutdownNow();
      throw new RosterException("node " + nodeId + " cannot serve messages on " + bindAddress + ": " + e.getMessage(), e);
    }
    String published = bindAddress.substring(0, bindAddress.lastIndexOf(':'));
    this.address = published + ":" + server.getPort();
  }

  /** Where this node receives messages: published in its session. */
  String address() {
    return address;
  }

  /** Messages dropped on arrival because their process was dead or its mailbox full. */
  long dropped() {
    return dropped.get();
  }

  // ------------------------------------------------------------------ sending

  boolean send(Pid to, byte[] body) {
    checkBody(body);
    if (isLocal(to)) {
      ProcessTable.Delivery d = processes.deliver(to, new ProcessTable.MailImpl(body.clone(), null));
      if (d == ProcessTable.Delivery.MAILBOX_FULL) {
        throw new LimitExceededException("mailbox of " + to + " is full (" + ProcessTable.MAILBOX_CAPACITY + " messages)");
      }
      return d == ProcessTable.Delivery.DELIVERED;
    }
    Peer peer = peerFor(to);
    if (peer == null) {
      return false;
    }
    return peer.send(frame(to, body, 0));
  }

  CompletableFuture<byte[]> call(Pid to, byte[] body, Duration timeout) {
    checkBody(body);
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive, was " + timeout);
    }
    CompletableFuture<byte[]> answer = new CompletableFuture<>();
    if (isLocal(to)) {
      ProcessTable.MailImpl mail = new ProcessTable.MailImpl(body.clone(), (reply, reason, detail) -> {
        if (reply != null) {
          answer.complete(reply);
        } else {
          answer.completeExceptionally(new CallException(reason, detail));
        }
      });
      switch (processes.deliver(to, mail)) {
        case NO_PROCESS -> mail.fail(CallException.Reason.NO_PROCESS, to + " is not alive");
        case MAILBOX_FULL -> mail.fail(CallException.Reason.MAILBOX_FULL, "mailbox of " + to + " is full");
        default -> { }
      }
      return withTimeout(answer, to, timeout, () -> mail.fail(CallException.Reason.TIMEOUT, "timed out"));
    }
    Peer peer = peerFor(to);
    if (peer == null) {
      return CompletableFuture.failedFuture(new CallException(CallException.Reason.NO_PROCESS, to
          + " is not alive: its node incarnation has no open session"));
    }
    long id = callIds.incrementAndGet();
    peer.call(id, frame(to, body, id), answer);
    return withTimeout(answer, to, timeout, () -> peer.forget(id));
  }

  private static CompletableFuture<byte[]> withTimeout(CompletableFuture<byte[]> answer, Pid to, Duration timeout,
      Runnable onTimeout) {
    long millis;
    try {
      millis = Math.max(1, timeout.toMillis());
    } catch (ArithmeticException e) {
      millis = Long.MAX_VALUE;
    }
    long limit = millis;
    return answer.orTimeout(limit, TimeUnit.MILLISECONDS).handle((reply, error) -> {
      if (error == null) {
        return reply;
      }
      Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
          ? error.getCause() : error;
      if (cause instanceof TimeoutException) {
        onTimeout.run();
        throw new CallException(CallException.Reason.TIMEOUT, to + " did not answer within " + limit + " ms");
      }
      if (cause instanceof RuntimeException r) {
        throw r;
      }
      throw new RosterException("the call to " + to + " failed: " + cause, cause);
    });
  }

  private static void checkBody(byte[] body) {
    java.util.Objects.requireNonNull(body, "message");
    if (body.length > BODY_BYTES_MAX) {
      throw new LimitExceededException("a message is at most " + BODY_BYTES_MAX + " bytes, was " + body.length);
    }
  }

  private boolean isLocal(Pid to) {
    java.util.Objects.requireNonNull(to, "pid");
    return to.nodeId().equals(nodeId);
  }

  private static byte[] frame(Pid to, byte[] body, long callId) {
    return Frame.newBuilder().setDeliver(Deliver.newBuilder().setTo(Codec.toProto(to))
        .setBody(ByteString.copyFrom(body)).setCallId(callId)).build().toByteArray();
  }

  /** The stream to the node of {@code to}, opened if needed; null if that incarnation has no open session. */
  private Peer peerFor(Pid to) {
    if (closed) {
      throw new IllegalStateException("node " + nodeId + " is closed");
    }
    Session s = sessions.apply(to.nodeId());
    if (s == null || s.expired() || s.incarnation() != to.incarnation() || s.address().isEmpty()) {
      return null;
    }
    Peer p = peers.get(s.nodeId());
    if (p != null && p.incarnation == s.incarnation() && p.address.equals(s.address())) {
      return p;
    }
    synchronized (peers) {
      p = peers.get(s.nodeId());
      if (p != null && p.incarnation == s.incarnation() && p.address.equals(s.address())) {
        return p;
      }
      if (p != null) {
        p.fail(CallException.Reason.NODE_UNREACHABLE, "node " + s.nodeId() + " restarted as incarnation "
            + s.incarnation());
      }
      p = new Peer(s.nodeId(), s.incarnation(), s.address());
      peers.put(s.nodeId(), p);
      return p;
    }
  }

  /**
   * Fails the streams to node incarnations whose sessions ended: a node cut off by the network
   * breaks no connection, but its session expires.
   */
  void checkPeers() {
    for (Peer p : List.copyOf(peers.values())) {
      Session s = sessions.apply(p.nodeId);
      if (s == null || s.expired() || s.incarnation() != p.incarnation) {
        p.fail(CallException.Reason.NODE_UNREACHABLE, "the session of node " + p.nodeId + " incarnation "
            + p.incarnation + " ended");
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    for (Peer p : List.copyOf(peers.values())) {
      p.fail(CallException.Reason.NODE_UNREACHABLE, "node " + nodeId + " closed");
    }
    server.shutdownNow();
    retries.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** This node's stream to one incarnation of another node. */
  private final class Peer implements ClientResponseObserver<byte[], byte[]> {
    final String nodeId;
    final long incarnation;
    final String address;
    private final ManagedChannel channel;
    private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
    private final Map<Long, CompletableFuture<byte[]>> calls = new ConcurrentHashMap<>();
    private ClientCallStreamObserver<byte[]> out;
    private boolean broken;

    Peer(String nodeId, long incarnation, String address) {
      this.nodeId = nodeId;
      this.incarnation = incarnation;
      this.address = address;
      this.channel = NettyChannelBuilder.forAddress(NodeConfig.host(address), NodeConfig.port(address))
          .usePlaintext()
          .maxInboundMessageSize(FRAME_BYTES_MAX)
          .build();
      synchronized (this) {
        queue.add(Frame.newBuilder().setHello(Hello.newBuilder().setFromNode(Messaging.this.nodeId)
            .setFromIncarnation(Messaging.this.incarnation).setToNode(nodeId).setToIncarnation(incarnation))
            .build().toByteArray());
        ClientCalls.asyncBidiStreamingCall(channel.newCall(STREAM, CallOptions.DEFAULT), this);
      }
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<byte[]> requestStream) {
      this.out = requestStream;
      requestStream.setOnReadyHandler(this::drain);
    }

    /** Queues a send; false if the stream is already broken (the message is dropped, as to a dead node). */
    synchronized boolean send(byte[] frame) {
      if (broken) {
        return false;
      }
      enqueue(frame);
      return true;
    }

    synchronized void call(long id, byte[] frame, CompletableFuture<byte[]> answer) {
      if (broken) {
        answer.completeExceptionally(new CallException(CallException.Reason.NODE_UNREACHABLE,
            "the stream to node " + nodeId + " broke"));
        return;
      }
      calls.put(id, answer);
      try {
        enqueue(frame);
      } catch (RuntimeException e) {
        calls.remove(id);
        throw e;
      }
    }

    void forget(long id) {
      calls.remove(id);
    }

    private void enqueue(byte[] frame) {
      if (queue.size() >= QUEUE_MAX) {
        throw new LimitExceededException("the queue to node " + nodeId + " is full (" + QUEUE_MAX
            + " messages): it receives more slowly than this node sends");
      }
      queue.add(frame);
      drain();
    }

    synchronized void drain() {
      if (broken || out == null) {
        return;
      }
      while (!queue.isEmpty() && out.isReady()) {
        out.onNext(queue.poll());
      }
    }

    @Override
    public void onNext(byte[] bytes) {
      Reply r;
      try {
        r = Reply.parseFrom(bytes);
      } catch (IOException e) {
        fail(CallException.Reason.REFUSED, "node " + nodeId + " sent a reply that does not decode");
        return;
      }
      CompletableFuture<byte[]> answer = calls.remove(r.getCallId());
      if (answer == null) {
        return; // timed out meanwhile, or the refusal of a send
      }
      if (r.getOutcome() == Reply.Outcome.ANSWERED) {
        answer.complete(r.getBody().toByteArray());
      } else {
        answer.completeExceptionally(new CallException(reason(r.getOutcome()), r.getDetail()));
      }
    }

    @Override
    public void onError(Throwable t) {
      Status status = Status.fromThrowable(t);
      fail(status.getCode() == Status.Code.FAILED_PRECONDITION ? CallException.Reason.REFUSED
          : CallException.Reason.NODE_UNREACHABLE, "the stream to node " + nodeId + " broke: " + status);
    }

    @Override
    public void onCompleted() {
      fail(CallException.Reason.NODE_UNREACHABLE, "node " + nodeId + " closed the stream");
    }

    void fail(CallException.Reason reason, String why) {
      synchronized (this) {
        if (broken) {
          return;
        }
        broken = true;
        queue.clear();
      }
      peers.remove(nodeId, this);
      List<CompletableFuture<byte[]>> failed = new ArrayList<>(calls.values());
      calls.clear();
      for (CompletableFuture<byte[]> answer : failed) {
        answer.completeExceptionally(new CallException(reason, why));
      }
      channel.shutdownNow();
      LOG.debug("{}: stream to {} incarnation {} ended ({}); {} calls failed", Messaging.this.nodeId, nodeId,
          incarnation, why, failed.size());
    }
  }

  private static CallException.Reason reason(Reply.Outcome outcome) {
    return switch (outcome) {
      case NO_PROCESS -> CallException.Reason.NO_PROCESS;
      case MAILBOX_FULL -> CallException.Reason.MAILBOX_FULL;
      case CALLEE_DIED -> CallException.Reason.CALLEE_DIED;
      default -> CallException.Reason.REFUSED;
    };
  }

  private static Reply.Outcome outcome(CallException.Reason reason) {
    return switch (reason) {
      case NO_PROCESS -> Reply.Outcome.NO_PROCESS;
      case MAILBOX_FULL -> Reply.Outcome.MAILBOX_FULL;
      case CALLEE_DIED -> Reply.Outcome.CALLEE_DIED;
      default -> Reply.Outcome.REFUSED;
    };
  }

  /** One stream from another node: checks its hello, then hands each message to its process. */
  /** A message taken from a stream, waiting for its mailbox. */
  private static final class Arrival {
    final Pid to;
    final ProcessTable.MailImpl mail;
    long firstTriedNanos;

    Arrival(Pid to, ProcessTable.MailImpl mail) {
      this.to = to;
      this.mail = mail;
    }
  }

  private final class Inbound implements StreamObserver<byte[]> {
    private final ServerCallStreamObserver<byte[]> out;
    private final ArrayDeque<Arrival> backlog = new ArrayDeque<>(); // at most INBOUND_WINDOW
    private boolean retryScheduled;
    private boolean greeted; // onNext calls of one stream never overlap
    private String from = "?";
    private boolean closed;

    Inbound(ServerCallStreamObserver<byte[]> out) {
      this.out = out;
    }

    @Override
    public void onNext(byte[] bytes) {
      Frame frame;
      try {
        frame = Frame.parseFrom(bytes);
      } catch (IOException e) {
        refuse("a frame does not decode");
        return;
      }
      if (!greeted) {
        Hello h = frame.getHello();
        if (!frame.hasHello() || !h.getToNode().equals(nodeId) || h.getToIncarnation() != incarnation) {
          refuse("this is node " + nodeId + " incarnation " + incarnation + ", not " + h.getToNode()
              + " incarnation " + h.getToIncarnation());
          return;
        }
        greeted = true;
        from = h.getFromNode();
        out.request(1);
        return;
      }
      if (!frame.hasDeliver()) {
        refuse("expected a message");
        return;
      }
      Deliver d = frame.getDeliver();
      long callId = d.getCallId();
      ProcessTable.MailImpl mail = new ProcessTable.MailImpl(d.getBody().toByteArray(), callId == 0 ? null
          : (answer, reason, detail) -> reply(callId, answer, reason, detail));
      Pid to;
      try {
        to = Codec.fromProto(d.getTo());
      } catch (RuntimeException e) {
        mail.fail(CallException.Reason.REFUSED, "the pid does not decode: " + e.getMessage());
        dropped.incrementAndGet();
        out.request(1);
        return;
      }
      synchronized (this) {
        backlog.add(new Arrival(to, mail));
      }
      pump();
    }

    /**
     * Hands the arrivals to their mailboxes in order. A full mailbox holds up the stream (nothing
     * more is requested from it, so gRPC's flow control slows the sender, whose queue then fills
     * and refuses more) until it has room, or until the message has waited
     * {@link #FULL_MAILBOX_WAIT_MILLIS} and is dropped: a stuck process must not stop every
     * message from a node for good.
     */
    private void pump() {
      int taken = 0;
      synchronized (this) {
        while (!backlog.isEmpty()) {
          Arrival head = backlog.peek();
          ProcessTable.Delivery delivery = head.to.nodeId().equals(nodeId) && head.to.incarnation() == incarnation
              ? processes.deliver(head.to, head.mail) : ProcessTable.Delivery.NO_PROCESS;
          if (delivery == ProcessTable.Delivery.MAILBOX_FULL) {
            long waited = System.nanoTime() - head.firstTriedNanos;
            if (head.firstTriedNanos == 0) {
              head.firstTriedNanos = System.nanoTime();
            } else if (waited > TimeUnit.MILLISECONDS.toNanos(FULL_MAILBOX_WAIT_MILLIS)) {
              head.mail.fail(CallException.Reason.MAILBOX_FULL, "mailbox of " + head.to + " stayed full for "
                  + FULL_MAILBOX_WAIT_MILLIS + " ms");
              drop(head, "its mailbox stayed full");
              backlog.poll();
              taken++;
              continue;
            }
            if (!retryScheduled && !closed) {
              retryScheduled = true;
              try {
                retries.schedule(this::retry, 1, TimeUnit.MILLISECONDS);
              } catch (java.util.concurrent.RejectedExecutionException stopping) {
                retryScheduled = false;
              }
            }
            break;
          }
          if (delivery == ProcessTable.Delivery.NO_PROCESS) {
            head.mail.fail(CallException.Reason.NO_PROCESS, head.to + " is not alive on node " + nodeId);
            drop(head, "no such live process");
          }
          backlog.poll();
          taken++;
        }
      }
      if (taken > 0) {
        try {
          out.request(taken);
        } catch (RuntimeException cancelled) {
          // the stream ended meanwhile
        }
      }
    }

    private void retry() {
      synchronized (this) {
        retryScheduled = false;
        if (closed) {
          backlog.clear();
          return;
        }
      }
      pump();
    }

    private void drop(Arrival a, String why) {
      if (!a.mail.isCall()) {
        long n = dropped.incrementAndGet();
        LOG.debug("{}: dropped a message from {} to {} ({}); {} dropped so far", nodeId, from, a.to, why, n);
      }
    }

    private void reply(long callId, byte[] answer, CallException.Reason reason, String detail) {
      Reply.Builder r = Reply.newBuilder().setCallId(callId);
      if (answer != null) {
        r.setOutcome(Reply.Outcome.ANSWERED).setBody(ByteString.copyFrom(answer));
      } else {
        r.setOutcome(outcome(reason)).setDetail(detail == null ? "" : detail);
      }
      synchronized (this) {
        if (closed) {
          return; // the caller's stream is gone: its calls failed on its side
        }
        try {
          out.onNext(r.build().toByteArray());
        } catch (RuntimeException e) { // cancelled meanwhile
          closed = true;
        }
      }
    }

    private synchronized void refuse(String why) {
      if (!closed) {
        closed = true;
        LOG.warn("{}: refused a message stream from {}: {}", nodeId, from, why);
        out.onError(Status.FAILED_PRECONDITION.withDescription(why).asRuntimeException());
      }
    }

    @Override
    public synchronized void onError(Throwable t) {
      closed = true;
      failBacklog();
    }

    /** The caller's stream is gone: its calls failed on its side; the rest is dropped. */
    private void failBacklog() {
      for (Arrival a : backlog) {
        drop(a, "the stream from " + from + " ended");
      }
      backlog.clear();
    }

    @Override
    public synchronized void onCompleted() {
      // the sender ended its stream: deliver what came (the retry task keeps pumping), then finish
      if (!closed && backlog.isEmpty()) {
        closed = true;
        out.onCompleted();
      }
    }
  }
}
