package io.roster.internal.messaging;

// This file is large because it is both ends of one protocol, the node-to-node message stream: the
// sender's queues and windows (Peer), the receiver (Inbound), the gate (Authenticated) and the table of
// calls awaiting replies share the frame format, the flow-control window and the peers' incarnations,
// and are checked against each other when read together.

import com.google.protobuf.ByteString;
import io.roster.CallException;
import io.roster.LimitExceededException;
import io.roster.Pid;
import io.roster.RosterException;
import io.roster.internal.Failures;
import io.roster.internal.NodeConfig;
import io.roster.internal.RateLimitedLog;
import io.roster.internal.transport.BytesMarshaller;
import io.roster.internal.transport.NodeTls;
import io.roster.proto.Cancel;
import io.roster.proto.Deliver;
import io.roster.proto.Frame;
import io.roster.proto.Hello;
import io.roster.proto.Reply;
import io.roster.schema.Codec;
import io.roster.schema.Session;
import java.io.IOException;
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
import org.apache.ratis.thirdparty.io.grpc.Context;
import org.apache.ratis.thirdparty.io.grpc.Contexts;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.Metadata;
import org.apache.ratis.thirdparty.io.grpc.MethodDescriptor;
import org.apache.ratis.thirdparty.io.grpc.Server;
import org.apache.ratis.thirdparty.io.grpc.ServerCall;
import org.apache.ratis.thirdparty.io.grpc.ServerCallHandler;
import org.apache.ratis.thirdparty.io.grpc.ServerInterceptor;
import org.apache.ratis.thirdparty.io.grpc.ServerInterceptors;
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
public final class Messaging implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Messaging.class);
  /** The largest message body. */
  static final int BODY_BYTES_MAX = 4 << 20;
  private static final int FRAME_BYTES_MAX = BODY_BYTES_MAX + 64 * 1024;
  /** Frames waiting for one node's stream; a sender beyond it gets LimitExceededException. */
  static final int QUEUE_MAX = 10_000;
  /** Bytes of frames waiting for one node's stream; a sender beyond it gets LimitExceededException. */
  static final long QUEUE_BYTES_MAX = 64L << 20;
  /** Frames a receiver takes from one stream ahead of delivering them (gRPC flow control does the rest). */
  private static final int INBOUND_WINDOW = 64;
  /** How long a message may wait for room in a full mailbox before it is dropped. */
  static final long FULL_MAILBOX_WAIT_MILLIS = 10_000;
  private static final long RETRY_MILLIS = 2;
  /** gRPC keepalive: a connection that stops answering pings fails its calls without waiting for a session expiry. */
  private static final long KEEPALIVE_MILLIS = 5_000;


  static final MethodDescriptor<byte[], byte[]> STREAM = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
      .setFullMethodName(MethodDescriptor.generateFullMethodName("roster.v1.Messaging", "Stream"))
      .setRequestMarshaller(BytesMarshaller.INSTANCE)
      .setResponseMarshaller(BytesMarshaller.INSTANCE)
      .build();

  /** Streams one connection may open: a node keeps one to each other node; a few overlap when it reconnects. */
  static final int STREAMS_PER_CONNECTION = 8;
  /** A stream that has not said hello within this is refused. */
  static final long HELLO_MILLIS = 5_000;

  private final String nodeId;
  /** This node's incarnation, which a voter renews when it rejoins after its session expired. */
  private volatile long incarnation;
  private final ProcessTable processes;
  /** The session of a node, from the cluster's mirror: where its current incarnation listens. */
  private final Function<String, Session> sessions;
  private final Server server;
  private final String address;
  private final Map<String, Peer> peers = new ConcurrentHashMap<>();
  private final AtomicLong callIds = new AtomicLong();
  private final AtomicLong dropped = new AtomicLong();
  private final java.util.concurrent.atomic.LongAdder sent = new java.util.concurrent.atomic.LongAdder();
  private final long fullMailboxWaitMillis;
  /** Retries deliveries into full mailboxes. */
  private final java.util.concurrent.ScheduledExecutorService retries;
  private volatile boolean closed;
  /** Mutual TLS on the server and every channel, or null for plaintext. */
  private final NodeTls tls;
  /** The messaging server's TLS, or null for plaintext. */
  private final NodeTls.Server serverTls;

  /**
   * Starts serving on {@code bindAddress} (host:port; port 0 picks a free one), with mutual TLS
   * ({@code tls}) or, if it is null, in plaintext.
   */
  public Messaging(String nodeId, long incarnation, String bindAddress, ProcessTable processes,
      Function<String, Session> sessions, NodeTls tls) {
    this(nodeId, incarnation, bindAddress, processes, sessions, FULL_MAILBOX_WAIT_MILLIS, tls);
  }

  public Messaging(String nodeId, long incarnation, String bindAddress, ProcessTable processes,
      Function<String, Session> sessions, long fullMailboxWaitMillis, NodeTls tls) {
    this.fullMailboxWaitMillis = fullMailboxWaitMillis;
    this.tls = tls;
    this.serverTls = tls == null ? null : tls.messagingServer();
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
          Inbound inbound = new Inbound(stream, PEER_NODE.get(), PEER_ADDRESS.get());
          stream.request(INBOUND_WINDOW);
          return inbound;
        }))
        .build();
    try {
      NettyServerBuilder builder = NodeTls.bounded(
          NettyServerBuilder.forAddress(new InetSocketAddress(host, NodeConfig.port(bindAddress))), STREAMS_PER_CONNECTION);
      if (tls != null) {
        builder.sslContext(serverTls.context());
      }
      this.server = builder
          .addService(ServerInterceptors.intercept(service, new Authenticated()))
          .maxInboundMessageSize(FRAME_BYTES_MAX)
          .permitKeepAliveTime(KEEPALIVE_MILLIS / 2, TimeUnit.MILLISECONDS)
          // a peer gone without a reset frees its streams (and its share of them) within seconds
          .keepAliveTime(KEEPALIVE_MILLIS, TimeUnit.MILLISECONDS)
          .keepAliveTimeout(KEEPALIVE_MILLIS, TimeUnit.MILLISECONDS)
          .permitKeepAliveWithoutCalls(true)
          .build()
          .start();
    } catch (IOException e) {
      retries.shutdownNow();
      throw new RosterException("node " + nodeId + " cannot serve messages on " + bindAddress + ": "
          + Failures.causes(e), e);
    }
    String published = bindAddress.substring(0, bindAddress.lastIndexOf(':'));
    this.address = published + ":" + server.getPort();
  }

  /** Where this node receives messages: published in its session. */
  public String address() {
    return address;
  }

  /** Messages dropped on arrival because their process was dead or its mailbox full. */
  public long dropped() {
    return dropped.get();
  }

  // ------------------------------------------------------------------ sending

  public boolean send(Pid to, byte[] body) {
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
    boolean queued = peer.send(frame(to, body, 0));
    if (queued) {
      sent.increment();
    }
    return queued;
  }

  /** Messages and calls this node's processes sent to other nodes (queued for their peer). */
  public long sent() {
    return sent.sum();
  }

  public CompletableFuture<byte[]> call(Pid to, byte[] body, Duration timeout) {
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
    sent.increment();
    return withTimeout(answer, to, timeout, () -> peer.cancel(id));
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
      Throwable cause = Failures.cause(error);
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
    Session s = sessions.apply(to.nodeId());
    if (s == null || s.expired() || s.incarnation() != to.incarnation() || s.address().isEmpty()) {
      return null;
    }
    Peer p = peers.get(s.nodeId());
    if (p != null && p.serves(s) && !closed) {
      return p;
    }
    synchronized (peers) {
      if (closed) {
        throw new IllegalStateException("node " + nodeId + " is closed");
      }
      p = peers.get(s.nodeId());
      if (p != null && p.serves(s)) {
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
   * This node goes on as incarnation {@code next} (a voter that rejoins after its session expired):
   * its streams, opened as the old incarnation, end, and new ones greet as the new; messages to the
   * old incarnation's processes find none.
   */
  public void renew(long next) {
    incarnation = next;
    for (Peer p : List.copyOf(peers.values())) {
      p.fail(CallException.Reason.NODE_UNREACHABLE, "node " + nodeId + " rejoined as incarnation " + next);
    }
  }

  /**
   * Fails the streams to node incarnations whose sessions ended: a node cut off by the network
   * breaks no connection, but its session expires.
   */
  public void checkPeers() {
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
    synchronized (peers) {
      closed = true;
    }
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

  /**
   * The node a stream's peer authenticated as: the CN of the certificate it presented, or null in
   * plaintext. A stream whose {@code Hello} names another node is refused.
   */
  private static final Context.Key<String> PEER_NODE = Context.key("roster-peer-node");
  /** The address a stream's peer connects from, for the log. */
  private static final Context.Key<Object> PEER_ADDRESS = Context.key("roster-peer-address");
  /** Refused streams: one WARN line per 10 s at most, naming the peer's address. */
  private final RateLimitedLog refusals = new RateLimitedLog(LOG, 10_000);

  /**
   * Streams one authenticated node may have open here at once, over all its connections: a node
   * keeps one stream to each other node, and a few overlap while it reconnects. It bounds what one
   * certificate can make this node buffer before its streams say hello (a frame each, at most
   * {@link #FRAME_BYTES_MAX}).
   */
  static final int STREAMS_PER_PEER_MAX = 8;
  /** Open streams per authenticated node id. */
  private final Map<String, java.util.concurrent.atomic.AtomicInteger> streamsByPeer = new ConcurrentHashMap<>();

  /**
   * Puts the peer's authenticated node id in the call's context, and refuses a stream beyond the
   * {@link #STREAMS_PER_PEER_MAX} that node already has open here.
   */
  private final class Authenticated implements ServerInterceptor {
    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
        ServerCallHandler<Q, A> next) {
      java.security.cert.X509Certificate cert = NodeTls.peer(call.getAttributes());
      Object address = call.getAttributes().get(org.apache.ratis.thirdparty.io.grpc.Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
      if (cert == null && tls != null) {
        refusals.warn("{}: refused a message stream from {}: no client certificate", nodeId, address);
        call.close(Status.UNAUTHENTICATED.withDescription("no client certificate"), new Metadata());
        return new ServerCall.Listener<>() {};
      }
      Context context = Context.current().withValue(PEER_ADDRESS, address);
      if (cert == null) {
        return Contexts.interceptCall(context, call, headers, next);
      }
      String peer = io.roster.Tls.nodeId(cert);
      String distrust = serverTls.distrust(call.getAttributes());
      if (distrust != null) {
        refusals.warn("{}: refused a message stream from {} at {}: {}", nodeId, peer, address, distrust);
        call.close(Status.PERMISSION_DENIED.withDescription(distrust), new Metadata());
        return new ServerCall.Listener<>() {};
      }
      java.util.concurrent.atomic.AtomicInteger open =
          streamsByPeer.computeIfAbsent(peer, p -> new java.util.concurrent.atomic.AtomicInteger());
      if (open.incrementAndGet() > STREAMS_PER_PEER_MAX) {
        open.decrementAndGet();
        refusals.warn("{}: refused a message stream from {} at {}: it has {} open here", nodeId, peer, address,
            STREAMS_PER_PEER_MAX);
        call.close(Status.RESOURCE_EXHAUSTED.withDescription("node " + peer + " has " + STREAMS_PER_PEER_MAX
            + " message streams open here"), new Metadata());
        return new ServerCall.Listener<>() {};
      }
      java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();
      Runnable end = () -> {
        if (ended.compareAndSet(false, true)) {
          open.decrementAndGet();
        }
      };
      ServerCall.Listener<Q> listener;
      try {
        listener = Contexts.interceptCall(context.withValue(PEER_NODE, peer), call, headers, next);
      } catch (RuntimeException e) {
        end.run();
        throw e;
      }
      return new org.apache.ratis.thirdparty.io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener<>(
          listener) {
        private boolean refused;

        @Override
        public void onMessage(Q message) {
          if (refused) {
            return;
          }
          String why = serverTls.distrust(call.getAttributes()); // revoked or expired since
          if (why != null) {
            refused = true;
            refusals.warn("{}: ended a message stream from {} at {}: {}", nodeId, peer, address, why);
            call.close(Status.PERMISSION_DENIED.withDescription(why), new Metadata());
            return;
          }
          super.onMessage(message);
        }

        @Override
        public void onComplete() {
          end.run();
          super.onComplete();
        }

        @Override
        public void onCancel() {
          end.run();
          super.onCancel();
        }
      };
    }
  }

  /** This node's stream to one incarnation of another node. */
  private final class Peer implements ClientResponseObserver<byte[], byte[]> {
    final String nodeId;
    final long incarnation;
    public final String address;
    private final ManagedChannel channel;
    private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
    private final Map<Long, CompletableFuture<byte[]>> calls = new ConcurrentHashMap<>();
    private ClientCallStreamObserver<byte[]> out;
    private long queuedBytes;
    private volatile boolean broken;

    Peer(String nodeId, long incarnation, String address) {
      this.nodeId = nodeId;
      this.incarnation = incarnation;
      this.address = address;
      NettyChannelBuilder builder = NettyChannelBuilder.forAddress(NodeConfig.host(address), NodeConfig.port(address));
      if (tls != null) {
        builder.sslContext(tls.messagingClient(nodeId));
      } else {
        builder.usePlaintext();
      }
      this.channel = builder
          .maxInboundMessageSize(FRAME_BYTES_MAX)
          .keepAliveTime(KEEPALIVE_MILLIS, TimeUnit.MILLISECONDS)
          .keepAliveTimeout(KEEPALIVE_MILLIS, TimeUnit.MILLISECONDS)
          .keepAliveWithoutCalls(true)
          .build();
      synchronized (this) {
        queue.add(Frame.newBuilder().setHello(Hello.newBuilder().setFromNode(Messaging.this.nodeId)
            .setFromIncarnation(Messaging.this.incarnation).setToNode(nodeId).setToIncarnation(incarnation))
            .build().toByteArray());
        ClientCalls.asyncBidiStreamingCall(channel.newCall(STREAM, CallOptions.DEFAULT), this);
      }
    }

    /** Whether this stream reaches the node incarnation of {@code s} and still works. */
    boolean serves(Session s) {
      return !broken && incarnation == s.incarnation() && address.equals(s.address());
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<byte[]> requestStream) {
      this.out = requestStream;
      requestStream.setOnReadyHandler(this::drain);
    }

    /** Queues a send; false if the stream is already broken (the message is dropped, as to a dead node). */
    public synchronized boolean send(byte[] frame) {
      if (broken) {
        return false;
      }
      enqueue(frame);
      return true;
    }

    public synchronized void call(long id, byte[] frame, CompletableFuture<byte[]> answer) {
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

    /** The caller stopped waiting: forget the call here and tell the receiver (best effort). */
    void cancel(long id) {
      if (calls.remove(id) == null) {
        return;
      }
      synchronized (this) {
        if (!broken && queue.size() < QUEUE_MAX) {
          queue.add(Frame.newBuilder().setCancel(Cancel.newBuilder().setCallId(id)).build().toByteArray());
          drain();
        }
      }
    }

    private void enqueue(byte[] frame) {
      if (queue.size() >= QUEUE_MAX || queuedBytes + frame.length > QUEUE_BYTES_MAX) {
        throw new LimitExceededException("the queue to node " + nodeId + " is full (" + QUEUE_MAX
            + " messages or " + (QUEUE_BYTES_MAX >> 20) + " MiB): it receives more slowly than this node sends");
      }
      queue.add(frame);
      queuedBytes += frame.length;
      drain();
    }

    synchronized void drain() {
      if (broken || out == null) {
        return;
      }
      while (!queue.isEmpty() && out.isReady()) {
        byte[] frame = queue.poll();
        queuedBytes -= frame.length;
        out.onNext(frame);
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
        return; // timed out, or cancelled, meanwhile
      }
      // Completed off this stream's thread: a caller's continuation that blocks (on another call to
      // the same node, say) must not hold up the replies behind it.
      if (r.getOutcome() == Reply.Outcome.ANSWERED) {
        byte[] body = r.getBody().toByteArray();
        COMPLETIONS.execute(() -> answer.complete(body));
      } else {
        CallException failure = new CallException(reason(r.getOutcome()), r.getDetail());
        COMPLETIONS.execute(() -> answer.completeExceptionally(failure));
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
        queuedBytes = 0;
      }
      peers.remove(nodeId, this);
      List<CompletableFuture<byte[]>> failed = new ArrayList<>(calls.values());
      calls.clear();
      COMPLETIONS.execute(() -> {
        for (CompletableFuture<byte[]> answer : failed) {
          answer.completeExceptionally(new CallException(reason, why));
        }
      });
      channel.shutdownNow();
      LOG.debug("{}: stream to {} incarnation {} ended ({}); {} calls failed", Messaging.this.nodeId, nodeId,
          incarnation, why, failed.size());
    }
  }

  /** Where callers' futures complete: never a stream's thread or under a lock of this class. */
  private static final java.util.concurrent.Executor COMPLETIONS = java.util.concurrent.ForkJoinPool.commonPool();

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
    long blockedSinceNanos;

    Arrival(Pid to, ProcessTable.MailImpl mail) {
      this.to = to;
      this.mail = mail;
    }
  }

  /**
   * One stream from another node: checks its hello, then hands each message to its process.
   *
   * <p>Flow control: the stream is granted {@link #INBOUND_WINDOW} frames; a frame delivered (or
   * dropped for a dead process) is granted again at once. A message for a process whose mailbox is
   * full is held, in order, with the later messages for that process, and granted again when it goes
   * in; messages for other processes pass it. When the window is all held, gRPC's flow control stops
   * the sender, whose queue then fills and refuses more: backpressure, not loss. A message held
   * longer than the full-mailbox wait is dropped, so a stuck process cannot hold a window for good.
   */
  private final class Inbound implements StreamObserver<byte[]> {
    private final ServerCallStreamObserver<byte[]> out;
    /** Messages held for processes with full mailboxes, per process, in arrival order. */
    private final Map<Pid, ArrayDeque<Arrival>> held = new java.util.LinkedHashMap<>();
    private int heldCount;
    /** The calls of this stream that are not settled yet, by call id: failed if the stream ends. */
    private final Map<Long, ProcessTable.MailImpl> calls = new ConcurrentHashMap<>();
    private boolean retryScheduled;
    private volatile boolean greeted; // written by onNext (whose calls never overlap), read by the hello timer
    private String from = "?";
    private boolean closed;
    /** The node the peer authenticated as, or null in plaintext. */
    private final String authenticated;

    /** Where the peer connects from, for the log. */
    private final Object address;

    Inbound(ServerCallStreamObserver<byte[]> out, String authenticated, Object address) {
      this.out = out;
      this.authenticated = authenticated;
      this.address = address;
      if (authenticated != null) {
        from = authenticated;
      }
      try {
        retries.schedule(() -> {
          if (!greeted) {
            refuse("no hello within " + HELLO_MILLIS + " ms");
          }
        }, HELLO_MILLIS, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException stopping) {
        // the node is stopping: its server ends this stream
      }
      out.setOnCancelHandler(this::ended);
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
        if (authenticated != null && !authenticated.equals(h.getFromNode())) {
          refuse("the stream's certificate is node " + authenticated + "'s; its hello names " + h.getFromNode());
          return;
        }
        greeted = true;
        from = h.getFromNode();
        grant(1);
        return;
      }
      if (frame.hasCancel()) {
        ProcessTable.MailImpl call = calls.remove(frame.getCancel().getCallId());
        if (call != null) {
          call.fail(CallException.Reason.TIMEOUT, "the caller stopped waiting");
        }
        grant(1);
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
      if (callId != 0) {
        calls.put(callId, mail);
      }
      Pid to;
      try {
        to = Codec.fromProto(d.getTo());
      } catch (RuntimeException e) {
        mail.fail(CallException.Reason.REFUSED, "the pid does not decode: " + e.getMessage());
        grant(1);
        return;
      }
      boolean delivered;
      synchronized (this) {
        if (closed) {
          return;
        }
        ArrayDeque<Arrival> waiting = held.get(to);
        if (waiting != null) { // behind earlier messages for the same process
          waiting.add(new Arrival(to, mail));
          heldCount++;
          delivered = false;
        } else {
          delivered = offer(new Arrival(to, mail));
          if (!delivered) {
            ArrayDeque<Arrival> q = new ArrayDeque<>();
            Arrival a = new Arrival(to, mail);
            a.blockedSinceNanos = System.nanoTime();
            q.add(a);
            held.put(to, q);
            heldCount++;
            scheduleRetry();
          }
        }
      }
      if (delivered) {
        grant(1);
      }
    }

    /** Hands one message to its process; false if its mailbox is full (it is then held). */
    private boolean offer(Arrival a) {
      ProcessTable.Delivery delivery = a.to.nodeId().equals(nodeId) && a.to.incarnation() == incarnation
          ? processes.deliver(a.to, a.mail) : ProcessTable.Delivery.NO_PROCESS;
      if (delivery == ProcessTable.Delivery.MAILBOX_FULL) {
        return false;
      }
      if (delivery == ProcessTable.Delivery.NO_PROCESS) {
        a.mail.fail(CallException.Reason.NO_PROCESS, a.to + " is not alive on node " + nodeId);
        drop(a, "no such live process");
      }
      return true;
    }

    /** Delivers what the full mailboxes now take, drops what waited too long, and grants as much again. */
    private void retry() {
      int released = 0;
      synchronized (this) {
        retryScheduled = false;
        if (closed) {
          return;
        }
        long now = System.nanoTime();
        for (var it = held.values().iterator(); it.hasNext(); ) {
          ArrayDeque<Arrival> q = it.next();
          while (!q.isEmpty()) {
            Arrival head = q.peek();
            if (head.blockedSinceNanos == 0) {
              head.blockedSinceNanos = now;
            }
            if (!offer(head)) {
              if (now - head.blockedSinceNanos <= TimeUnit.MILLISECONDS.toNanos(fullMailboxWaitMillis)) {
                break;
              }
              head.mail.fail(CallException.Reason.MAILBOX_FULL, "mailbox of " + head.to + " stayed full for "
                  + fullMailboxWaitMillis + " ms");
              drop(head, "its mailbox stayed full for " + fullMailboxWaitMillis + " ms");
            }
            q.poll();
            heldCount--;
            released++;
          }
          if (q.isEmpty()) {
            it.remove();
          }
        }
        if (!held.isEmpty()) {
          scheduleRetry();
        }
      }
      grant(released);
    }

    private void scheduleRetry() {
      if (!retryScheduled && !closed) {
        retryScheduled = true;
        try {
          retries.schedule(this::retry, RETRY_MILLIS, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
          retryScheduled = false;
        }
      }
    }

    private void grant(int frames) {
      if (frames > 0) {
        try {
          out.request(frames);
        } catch (RuntimeException cancelled) {
          // the stream ended meanwhile
        }
      }
    }

    private void drop(Arrival a, String why) {
      if (!a.mail.isCall()) {
        long n = dropped.incrementAndGet();
        LOG.debug("{}: dropped a message from {} to {} ({}); {} dropped so far", nodeId, from, a.to, why, n);
      }
    }

    private void reply(long callId, byte[] answer, CallException.Reason reason, String detail) {
      calls.remove(callId);
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

    private void refuse(String why) {
      synchronized (this) {
        if (closed) {
          return;
        }
        refusals.warn("{}: refused a message stream from {} at {}: {}", nodeId, from, address, why);
        out.onError(Status.FAILED_PRECONDITION.withDescription(why).asRuntimeException());
      }
      ended();
    }

    /**
     * The stream is over: the messages held for it are dropped, and its unsettled calls are failed
     * here so that their processes forget them (the caller failed them on its side already).
     */
    private void ended() {
      synchronized (this) {
        closed = true;
        for (ArrayDeque<Arrival> q : held.values()) {
          for (Arrival a : q) {
            drop(a, "the stream from " + from + " ended");
          }
        }
        held.clear();
        heldCount = 0;
      }
      for (ProcessTable.MailImpl call : List.copyOf(calls.values())) {
        call.fail(CallException.Reason.NODE_UNREACHABLE, "the caller's stream ended");
      }
      calls.clear();
    }

    @Override
    public void onError(Throwable t) {
      ended();
    }

    @Override
    public void onCompleted() {
      // our senders never half-close; a raw client that does gets its stream finished
      synchronized (this) {
        if (!closed) {
          out.onCompleted();
        }
      }
      ended();
    }
  }
}
