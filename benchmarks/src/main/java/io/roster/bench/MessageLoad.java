package io.roster.bench;

import io.roster.Keys;
import io.roster.LimitExceededException;
import io.roster.LocalProcess;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.internal.transport.BytesMarshaller;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.thirdparty.io.grpc.CallOptions;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.MethodDescriptor;
import org.apache.ratis.thirdparty.io.grpc.Server;
import org.apache.ratis.thirdparty.io.grpc.ServerServiceDefinition;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyChannelBuilder;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyServerBuilder;
import org.apache.ratis.thirdparty.io.grpc.stub.ClientCalls;
import org.apache.ratis.thirdparty.io.grpc.stub.ServerCalls;
import org.apache.ratis.thirdparty.io.grpc.stub.StreamObserver;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Cross-node send and call between two nodes of a 3-voter cluster in this JVM (gRPC on loopback),
 * next to the floor: a bare gRPC echo on the same machine, with the same gRPC (the one Ratis ships)
 * and the same payload.
 *
 * <ul>
 *   <li>call: a closed loop of {@code in-flight} callers, each calling a process on the other node
 *       by name and waiting for its reply; floor: a unary gRPC echo call;
 *   <li>send: one thread sending to a process on the other node as fast as the stream takes it,
 *       counted as they arrive; floor: one client stream pushing messages to a counting server.
 * </ul>
 */
@Command(name = "message-load", mixinStandardHelpOptions = true,
    description = "Throughput and latency of send and call across nodes, next to a bare gRPC round trip.")
public final class MessageLoad implements Callable<Integer> {
  @Option(names = "--in-flight", split = ",", defaultValue = "1,16,64",
      description = "Concurrent calls (default: ${DEFAULT-VALUE})")
  List<Integer> inFlight;

  @Option(names = "--payload", defaultValue = "64", description = "Message bytes (default: ${DEFAULT-VALUE})")
  int payload;

  @Option(names = "--duration", defaultValue = "PT10S", description = "Measured time per point (default: ${DEFAULT-VALUE})")
  Duration duration;

  @Option(names = "--warmup", defaultValue = "PT5S", description = "Warm-up per point (default: ${DEFAULT-VALUE})")
  Duration warmup;

  public static void main(String[] args) {
    System.setProperty("roster.log.level", System.getProperty("roster.log.level", "WARN"));
    System.setProperty("roster.ratis.log.level", System.getProperty("roster.ratis.log.level", "OFF"));
    System.exit(new CommandLine(new MessageLoad()).execute(args));
  }


  static final MethodDescriptor<byte[], byte[]> ECHO = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("bench.Floor/Echo")
      .setRequestMarshaller(BytesMarshaller.INSTANCE).setResponseMarshaller(BytesMarshaller.INSTANCE).build();
  static final MethodDescriptor<byte[], byte[]> PUSH = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.CLIENT_STREAMING).setFullMethodName("bench.Floor/Push")
      .setRequestMarshaller(BytesMarshaller.INSTANCE).setResponseMarshaller(BytesMarshaller.INSTANCE).build();

  @Override
  public Integer call() throws Exception {
    byte[] body = new byte[payload];
    System.out.printf("2 nodes of a 3-voter cluster in one JVM, gRPC on loopback, %d cores; payload %d bytes; "
        + "%s warm-up, %s measured per point%n", Runtime.getRuntime().availableProcessors(), payload, warmup, duration);
    System.out.printf("%-28s %9s %12s %9s %9s%n", "what", "in-flight", "ops/s", "p50 ms", "p99 ms");
    Path data = Files.createTempDirectory("roster-message-load-");
    AtomicLong floorPushed = new AtomicLong();
    Server floor = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerServiceDefinition.builder("bench.Floor")
            .addMethod(ECHO, ServerCalls.asyncUnaryCall((req, out) -> {
              out.onNext(req);
              out.onCompleted();
            }))
            .addMethod(PUSH, ServerCalls.asyncClientStreamingCall(out -> new StreamObserver<byte[]>() {
              @Override
              public void onNext(byte[] value) {
                floorPushed.incrementAndGet();
              }

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {
                out.onNext(new byte[0]);
                out.onCompleted();
              }
            }))
            .build())
        .build().start();
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", floor.getPort()).usePlaintext().build();
    try (LocalCluster cluster = LocalCluster.start(data, 3, Duration.ofSeconds(5), Duration.ofSeconds(10))) {
      cluster.awaitReady(Duration.ofSeconds(60));
      Node sender = cluster.node("n1");
      Node receiver = cluster.node("n2");
      AtomicLong received = new AtomicLong();
      LocalProcess echo = receiver.spawn((self, mail) -> {
        if (mail.isCall()) {
          mail.reply(mail.body());
        } else {
          received.incrementAndGet();
        }
      });
      receiver.registry("bench").register("echo", echo);
      Registry<byte[]> names = sender.registry("bench", Keys.UNIQUE);
      while (names.whereis("echo") == null) {
        Thread.onSpinWait();
      }
      for (int n : inFlight) {
        print("roster call (by name)", n, ClosedLoop.run(n, warmup, duration,
            w -> seq -> names.call("echo", body, Duration.ofSeconds(10))));
        print("gRPC unary echo (floor)", n, ClosedLoop.run(n, warmup, duration,
            w -> seq -> ClientCalls.blockingUnaryCall(channel, ECHO, CallOptions.DEFAULT, body)));
      }
      Pid to = names.whereis("echo");
      printRate("roster send (by pid)", rate(() -> {
        while (true) {
          try {
            sender.send(to, body);
            return;
          } catch (LimitExceededException full) {
            Thread.onSpinWait(); // the stream is at its bound: this is the backpressure
          }
        }
      }, received));
      StreamObserver<byte[]> push = ClientCalls.asyncClientStreamingCall(channel.newCall(PUSH, CallOptions.DEFAULT),
          new StreamObserver<>() {
            @Override
            public void onNext(byte[] value) {}

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {}
          });
      var pushStream = (org.apache.ratis.thirdparty.io.grpc.stub.ClientCallStreamObserver<byte[]>) push;
      printRate("gRPC client stream (floor)", rate(() -> {
        while (!pushStream.isReady()) {
          Thread.onSpinWait();
        }
        push.onNext(body);
      }, floorPushed));
      push.onCompleted();
    } finally {
      channel.shutdownNow();
      floor.shutdownNow();
      floor.awaitTermination(5, TimeUnit.SECONDS);
      LocalCluster.deleteTree(data);
    }
    return 0;
  }

  /** Sends for the warm-up and the measured period from one thread; the rate counted at the receiver. */
  private double rate(Runnable sendOne, AtomicLong arrived) {
    long warmEnd = System.nanoTime() + warmup.toNanos();
    while (System.nanoTime() < warmEnd) {
      sendOne.run();
    }
    long start = System.nanoTime();
    long from = arrived.get();
    long end = start + duration.toNanos();
    while (System.nanoTime() < end) {
      sendOne.run();
    }
    return (arrived.get() - from) / ((System.nanoTime() - start) / 1e9);
  }

  private static void print(String what, int n, ClosedLoop.Result r) {
    System.out.printf("%-28s %9d %12.0f %9.3f %9.3f%s%n", what, n, r.opsPerSecond(), r.percentileMillis(50),
        r.percentileMillis(99), r.errors() > 0 ? "  (" + r.errors() + " errors)" : "");
  }

  private static void printRate(String what, double perSecond) {
    System.out.printf("%-28s %9s %12.0f %9s %9s%n", what, "stream", perSecond, "-", "-");
  }
}
