package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.google.protobuf.ByteString;
import io.roster.internal.transport.BytesMarshaller;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Member;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.Role;
import io.roster.Tls;
import io.roster.ValueCodec;
import io.roster.internal.node.Node;
import io.roster.testkit.CertificateAuthority;
import io.roster.testkit.LocalCluster;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import io.roster.proto.Deliver;
import io.roster.proto.Frame;
import io.roster.proto.Hello;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.grpc.GrpcTlsConfig;
import org.apache.ratis.proto.RaftProtos.RaftRpcRequestProto;
import org.apache.ratis.proto.RaftProtos.RequestVoteRequestProto;
import org.apache.ratis.proto.grpc.RaftServerProtocolServiceGrpc;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.thirdparty.io.grpc.CallOptions;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.MethodDescriptor;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.apache.ratis.thirdparty.io.grpc.StatusRuntimeException;
import org.apache.ratis.thirdparty.io.grpc.netty.GrpcSslContexts;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyChannelBuilder;
import org.apache.ratis.thirdparty.io.grpc.stub.ClientCalls;
import org.apache.ratis.thirdparty.io.grpc.stub.StreamObserver;
import org.apache.ratis.util.TimeDuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trust boundary, attacked over real gRPC on loopback: mutual TLS on every port, identities
 * bound to certificates, and Raft's peer and admin services closed to certificates without the role.
 * Each attack is followed by a check that nothing changed.
 */
class TlsTest {
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  LocalCluster cluster;
  Registry<String> services;
  LocalProcess worker;

  @BeforeEach
  void start() {
    cluster = LocalCluster.start(dir.resolve("cluster"), 3, Duration.ofSeconds(3), Duration.ofSeconds(3));
    cluster.startClient("c1");
    cluster.awaitReady(WAIT);
    services = cluster.node("c1").registry("services", Keys.UNIQUE, ValueCodec.utf8());
    worker = cluster.node("c1").spawn();
    services.register("billing", worker, "v1");
  }

  @AfterEach
  void stop() {
    cluster.close();
  }

  @Test
  void withoutACertificateOfTheClustersCaNoPortAnswers() throws Exception {
    Map<String, String> before = state();
    // the worst case: another CA's certificate that names a real voter
    CertificateAuthority other = CertificateAuthority.create("another CA", Duration.ofDays(1));
    Tls impostor = other.issue("n1", Tls.CertRole.ADMIN, List.of("127.0.0.1"), Duration.ofDays(1))
        .tls(dir.resolve("other"));

    try (RaftClient raft = client(cluster.node("n1").raftGroup(), impostor)) {
      assertThat(catchThrowable(() -> raft.io().sendReadOnly(query()))).as("Raft client port").isNotNull();
      assertThat(catchThrowable(() -> raft.getGroupManagementApi(RaftPeerId.valueOf("n2")).list()))
          .as("Raft admin port").isNotNull();
    }
    try (RaftClient plaintext = client(cluster.node("n1").raftGroup(), null)) {
      assertThat(catchThrowable(() -> plaintext.io().sendReadOnly(query()))).as("plaintext").isNotNull();
    }
    Node c1 = cluster.node("c1");
    Throwable messaging = stream(c1.messageAddress(), impostor, "n1", c1);
    assertThat(messaging).as("messaging port").isInstanceOf(StatusRuntimeException.class);
    assertThat(state()).isEqualTo(before);
  }

  @Test
  void aCertificateOfTheClustersCaWritesOnlyForItsOwnNode() throws Exception {
    Map<String, String> before = state();
    Node c1 = cluster.node("c1");
    RaftGroup group = c1.raftGroup();
    Node leader = org.awaitility.Awaitility.await().atMost(WAIT).until(cluster::leader, l -> l != null);
    long term = leader.raftServer().getDivision(group.getGroupId()).getInfo().getCurrentTerm();
    io.roster.Pid victim = worker.pid();
    List<io.roster.proto.Command> attacks = List.of(
        Commands.register("services", "billing-2", "x".getBytes(), victim),
        Commands.unregister("services", "billing", victim),
        Commands.unregisterPid(victim),
        Commands.openSession("c1", c1.incarnation() + 1, 5_000, "127.0.0.1:1"),
        Commands.expireSession("c1", c1.incarnation()),
        Commands.expireSession("c1", c1.incarnation(), term),
        Commands.expireSession(leader.nodeId(), leader.incarnation(), 0));
    io.roster.proto.Command partitioned = Commands.createRegistry(
        io.roster.proto.CreateRegistry.newBuilder().setRegistry("spread")
            .setMode(io.roster.proto.KeyMode.UNIQUE).setPartitions(4).build());
    // a client certificate, and a voter's that is not the leader's; every victim is another node
    String follower = cluster.nodes().stream().map(Node::nodeId)
        .filter(id -> id.startsWith("n") && !id.equals(leader.nodeId())).findFirst().orElseThrow();
    for (String[] who : List.of(new String[] {"mallory", "CLIENT"}, new String[] {follower, "VOTER"})) {
      try (RaftClient raft = cluster.ratisClient(group, who[0], Tls.CertRole.valueOf(who[1]), RetryPolicies.noRetry())) {
        List<io.roster.proto.Command> tried = new java.util.ArrayList<>(attacks);
        if (who[1].equals("CLIENT")) {
          tried.add(partitioned); // a voter may create one
        }
        for (io.roster.proto.Command attack : tried) {
          Throwable refused = catchThrowable(() -> {
            var reply = raft.io().send(Message.valueOf(
                org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations.unsafeWrap(Codec.encode(attack))));
            if (!reply.isSuccess()) {
              throw reply.getException();
            }
          });
          assertThat(refused).as(who[0] + ": " + attack.getKindCase()).isNotNull()
              .hasStackTraceContaining("NOT_AUTHORIZED");
        }
        Throwable streamed = catchThrowable(() -> {
          var reply = raft.getMessageStreamApi().streamAsync(Message.valueOf(
              org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations.unsafeWrap(Codec.encode(
                  Commands.register("services", "streamed", new byte[0], victim))))).get(20, TimeUnit.SECONDS);
          if (!reply.isSuccess()) {
            throw reply.getException();
          }
        });
        assertThat(streamed).as(who[0] + ": a message stream").isNotNull();
        Throwable beat = catchThrowable(() -> raft.io().sendStaleRead(Message.valueOf(
            org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations.unsafeWrap(
                io.roster.proto.Query.newBuilder().setHeartbeat(
                    io.roster.proto.Heartbeat.newBuilder().setNodeId("c1")
                        .setIncarnation(c1.incarnation())).build().toByteArray())), 0, leader.raftServer().getId()));
        assertThat(beat).as(who[0] + ": heartbeat for c1").hasStackTraceContaining("PERMISSION_DENIED");
      }
    }
    assertThat(state()).isEqualTo(before);
    assertThat(cluster.node("n1").mirror().session("c1").expired()).isFalse();
    assertThat(cluster.node("n1").mirror().registry("spread")).isNull();
    assertThat(worker.isAlive()).isTrue();
  }

  @Test
  void halfOpenConnectionsAreDroppedAndTheNodeKeepsServing() throws Exception {
    Node n1 = cluster.node("n1");
    List<String> ports = List.of(cluster.voters().get("n1"), n1.messageAddress());
    List<java.net.Socket> sockets = new java.util.ArrayList<>();
    try {
      long heapBefore = heapUsed();
      for (int i = 0; i < 3_000; i++) { // TCP connections that never start TLS
        String address = ports.get(i % 2);
        int colon = address.lastIndexOf(':');
        sockets.add(new java.net.Socket(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1))));
      }
      long heapHeld = heapUsed();
      LocalProcess during = cluster.node("c1").spawn();
      services.register("during", during, "v");
      assertThat(n1.registry("services", Keys.UNIQUE, ValueCodec.utf8()).whereisConsistent("during"))
          .isEqualTo(during.pid());
      // the handshake bound ends every one of them: each reads end-of-stream or a reset
      for (java.net.Socket s : sockets) {
        s.setSoTimeout((int) WAIT.toMillis());
        try {
          assertThat(s.getInputStream().read()).isEqualTo(-1);
        } catch (java.net.SocketException reset) {
          // closed by the node
        }
      }
      System.out.printf("heap: %d MB before, %d MB with 3,000 half-open connections%n", heapBefore >> 20,
          heapHeld >> 20);
      assertThat(heapHeld - heapBefore).as("heap held by 3,000 half-open connections").isLessThan(128L << 20);
    } finally {
      for (java.net.Socket s : sockets) {
        s.close();
      }
    }
  }

  @Test
  void onePeersSilentStreamsAreCappedAndThenRefusedForSayingNoHello() throws Exception {
    Node c1 = cluster.node("c1");
    Tls mallory = cluster.tls("mallory", Tls.CertRole.CLIENT);
    List<ManagedChannel> channels = new java.util.ArrayList<>();
    List<CompletableFuture<Throwable>> ends = new java.util.ArrayList<>();
    try {
      for (int c = 0; c < 5; c++) { // 5 connections of 8 streams, none of which says hello
        ManagedChannel channel = channel(c1.messageAddress(), mallory);
        channels.add(channel);
        for (int s = 0; s < 8; s++) {
          CompletableFuture<Throwable> ended = new CompletableFuture<>();
          ends.add(ended);
          ClientCalls.asyncBidiStreamingCall(channel.newCall(MESSAGING, CallOptions.DEFAULT), endsIn(ended));
        }
      }
      CompletableFuture.allOf(ends.toArray(new CompletableFuture[0])).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      List<Status.Code> codes = ends.stream().map(f -> Status.fromThrowable(f.join()).getCode()).toList();
      assertThat(codes.stream().filter(Status.Code.RESOURCE_EXHAUSTED::equals).count()).as("beyond the cap")
          .isEqualTo(40 - io.roster.it.TlsTest.STREAMS_PER_PEER);
      assertThat(ends.stream().map(CompletableFuture::join).filter(t -> String.valueOf(t.getMessage())
          .contains("no hello within")).count()).as("silent streams").isEqualTo(io.roster.it.TlsTest.STREAMS_PER_PEER);
      // and the node's own messaging works throughout
      LocalProcess echo = c1.spawn((self, mail) -> mail.reply(mail.body()));
      assertThat(cluster.node("n1").call(echo.pid(), "ping".getBytes(), Duration.ofSeconds(10))).isEqualTo("ping".getBytes());
    } finally {
      channels.forEach(ManagedChannel::shutdownNow);
    }
  }

  /** The messaging port's cap of streams one authenticated node may hold open. */
  static final int STREAMS_PER_PEER = 8;

  private static StreamObserver<byte[]> endsIn(CompletableFuture<Throwable> ended) {
    return new StreamObserver<>() {
      @Override
      public void onNext(byte[] value) {
      }

      @Override
      public void onError(Throwable t) {
        ended.complete(t);
      }

      @Override
      public void onCompleted() {
        ended.complete(new IllegalStateException("completed"));
      }
    };
  }

  private static long heapUsed() {
    System.gc();
    Runtime r = Runtime.getRuntime();
    return r.totalMemory() - r.freeMemory();
  }

  @Test
  void theWholeStateAndTheChangeStreamGoToMembersOnly() throws Exception {
    Map<String, String> before = state();
    RaftGroup group = cluster.node("c1").raftGroup();
    Node leader = org.awaitility.Awaitility.await().atMost(WAIT).until(cluster::leader, l -> l != null);
    RaftPeerId at = leader.raftServer().getId();
    io.roster.proto.Query dump = io.roster.proto.Query.newBuilder()
        .setDump(io.roster.proto.Dump.getDefaultInstance()).build();
    io.roster.proto.Query changes = io.roster.proto.Query.newBuilder()
        .setChanges(io.roster.proto.Changes.newBuilder().setFromIndex(1)).build();
    try (RaftClient member = cluster.ratisClient(group, "c1", Tls.CertRole.CLIENT, RetryPolicies.noRetry());
        RaftClient mallory = cluster.ratisClient(group, "mallory", Tls.CertRole.CLIENT, RetryPolicies.noRetry());
        RaftClient mallorysWrites = cluster.ratisClient(group, "mallory", Tls.CertRole.CLIENT,
            RetryPolicies.retryUpToMaximumCountWithFixedSleep(20, TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)))) {
      // c1 holds an open session: served
      assertThat(ask(member, dump, at).getStatus()).isEqualTo(io.roster.proto.Status.OK);
      assertThat(ask(member, changes, at).getStatus()).isEqualTo(io.roster.proto.Status.OK);
      // a valid certificate of a node that never joined: refused, and it still reads by key
      for (io.roster.proto.Query q : List.of(dump, changes)) {
        assertThat(catchThrowable(() -> ask(mallory, q, at))).as(q.getKindCase().toString())
            .hasStackTraceContaining("PERMISSION_DENIED").hasStackTraceContaining("not a member of this group");
      }
      assertThat(ask(mallory, io.roster.proto.Query.newBuilder().setWhereis(
          io.roster.proto.Whereis.newBuilder().setRegistry("services").setKey("billing")).build(), at)
          .getStatus()).isEqualTo(io.roster.proto.Status.OK);
      // once it opens a session of its own it is a member; after its goodbye it is not
      assertThat(write(mallorysWrites, Commands.openSession("mallory", 1, 5_000, "127.0.0.1:1")).getStatus())
          .isEqualTo(io.roster.proto.Status.OK);
      assertThat(ask(mallory, dump, at).getStatus()).isEqualTo(io.roster.proto.Status.OK);
      assertThat(write(mallorysWrites, Commands.expireSession("mallory", 1)).getStatus())
          .isEqualTo(io.roster.proto.Status.OK);
      assertThat(catchThrowable(() -> ask(mallory, dump, at))).hasStackTraceContaining("not a member of this group");
    }
    assertThat(state()).isEqualTo(before);
  }

  /** A stale read of {@code q} at {@code peer}, its answer decoded; throws what Ratis failed with. */
  private static io.roster.proto.QueryResult ask(RaftClient raft, io.roster.proto.Query q,
      RaftPeerId peer) throws Exception {
    var reply = raft.io().sendStaleRead(Message.valueOf(
        org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations.unsafeWrap(q.toByteArray())), 0, peer);
    if (!reply.isSuccess()) {
      throw reply.getException();
    }
    return io.roster.proto.QueryResult.parseFrom(reply.getMessage().getContent().toByteArray());
  }

  /** One command written through the leader, its result decoded; throws what Ratis failed with. */
  private static io.roster.proto.Result write(RaftClient raft, io.roster.proto.Command c)
      throws Exception {
    var reply = raft.io().send(Message.valueOf(
        org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations.unsafeWrap(Codec.encode(c))));
    if (!reply.isSuccess()) {
      throw reply.getException();
    }
    return io.roster.proto.BatchResult.parseFrom(reply.getMessage().getContent().toByteArray())
        .getResults(0);
  }

  @Test
  void certificatesRotateWithoutARestartAndARevokedOneIsRefused() throws Exception {
    RaftGroup group = cluster.node("n1").raftGroup();
    // c2's PEM files are replaced while it runs; the voters read the CA's revocation list
    Path files = dir.resolve("c2");
    CertificateAuthority.Issued first = cluster.ca().issue("c2", Tls.CertRole.CLIENT, List.of("127.0.0.1"),
        Duration.ofDays(1));
    first.save(files);
    java.nio.file.Files.copy(cluster.tlsDir().resolve(CertificateAuthority.CA_FILE), files.resolve("ca.pem"));
    Tls rotating = Tls.pem(first.certFile(files), first.keyFile(files), files.resolve("ca.pem"));
    RegistryNode.Builder b = RegistryNode.builder().nodeId("c2").role(Role.CLIENT).tls(rotating);
    cluster.voters().forEach(b::voter);
    try (RegistryNode c2 = b.start()) {
      c2.ready().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      Registry<String> r = c2.registry("services", Keys.UNIQUE, ValueCodec.utf8());
      r.register("before-rotation", c2.spawn(), "v");

      CertificateAuthority.Issued second = cluster.ca().issue("c2", Tls.CertRole.CLIENT, List.of("127.0.0.1"),
          Duration.ofDays(1));
      second.save(files);
      cluster.revoke(first.certificate());
      // c2 presents the new certificate at its next handshakes, without a restart
      org.awaitility.Awaitility.await().atMost(WAIT).until(() -> {
        String alias = rotating.keyManager().chooseEngineClientAlias(new String[] {"EC"}, null, null);
        return alias != null && second.certificate().equals(rotating.keyManager().getCertificateChain(alias)[0]);
      });
      // the voters refuse the revoked certificate once they have read the list again
      first.save(dir.resolve("old"));
      Tls revoked = Tls.pem(first.certFile(dir.resolve("old")), first.keyFile(dir.resolve("old")),
          cluster.tlsDir().resolve(CertificateAuthority.CA_FILE));
      org.awaitility.Awaitility.await().atMost(WAIT).until(() -> {
        try (RaftClient raft = client(group, revoked)) {
          return catchThrowable(() -> raft.io().sendReadOnly(query())) != null;
        }
      });
      // c2, whose connections were opened with the revoked certificate, goes on writing with the new one
      r.register("after-rotation", c2.spawn(), "v");
      assertThat(cluster.node("n1").registry("services", Keys.UNIQUE, ValueCodec.utf8())
          .whereisConsistent("after-rotation")).isNotNull();
      try (RaftClient raft = client(group, Tls.pem(second.certFile(files), second.keyFile(files),
          files.resolve("ca.pem")))) {
        assertThat(raft.io().sendReadOnly(query()).isSuccess()).as("the new certificate is accepted").isTrue();
      }
    }
  }

  @Test
  void aRevokedCertificateLosesTheConnectionsItAlreadyHas() throws Exception {
    RaftGroup group = cluster.node("n1").raftGroup();
    CertificateAuthority.Issued issued = cluster.ca().issue("c3", Tls.CertRole.CLIENT, List.of("127.0.0.1"),
        Duration.ofDays(1));
    Tls c3 = issued.tls(dir.resolve("c3"));
    Node c1 = cluster.node("c1");
    LocalProcess inbox = c1.spawn();
    ManagedChannel channel = channel(c1.messageAddress(), c3);
    try (RaftClient raft = client(group, c3)) {
      // a Raft connection and a greeted message stream, both in use
      assertThat(raft.io().sendReadOnly(query()).isSuccess()).isTrue();
      CompletableFuture<Throwable> ended = new CompletableFuture<>();
      StreamObserver<byte[]> out = ClientCalls.asyncBidiStreamingCall(channel.newCall(MESSAGING, CallOptions.DEFAULT),
          endsIn(ended));
      out.onNext(Frame.newBuilder().setHello(Hello.newBuilder().setFromNode("c3").setFromIncarnation(1)
          .setToNode(c1.nodeId()).setToIncarnation(c1.incarnation())).build().toByteArray());
      Frame deliver = Frame.newBuilder().setDeliver(Deliver.newBuilder().setTo(Codec.toProto(inbox.pid()))
          .setBody(ByteString.copyFromUtf8("before"))).build();
      out.onNext(deliver.toByteArray());
      assertThat(inbox.receive(WAIT)).isNotNull();

      cluster.revoke(issued.certificate());
      // the connections stay open; their next requests are refused
      org.awaitility.Awaitility.await().atMost(WAIT).untilAsserted(() ->
          assertThat(catchThrowable(() -> raft.io().sendReadOnly(query()))).hasStackTraceContaining("PERMISSION_DENIED")
              .hasStackTraceContaining("trusted no more"));
      // (within about two seconds: the revocation list is read again at most once a second, and a
      // connection's peer is checked again at most once a second)
      org.awaitility.Awaitility.await().atMost(WAIT).pollInterval(Duration.ofMillis(100)).until(() -> {
        out.onNext(deliver.toByteArray());
        return ended.isDone();
      });
      assertThat(Status.fromThrowable(ended.get()).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(ended.get()).hasMessageContaining("trusted no more");
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void anExpiredCertificateOfTheClustersCaIsRefused() {
    Instant now = Instant.now();
    Tls expired = cluster.ca().issue("late", Tls.CertRole.ADMIN, List.of("127.0.0.1"),
        now.minus(Duration.ofDays(2)), now.minus(Duration.ofDays(1))).tls(cluster.tlsDir());
    try (RaftClient raft = client(cluster.node("n1").raftGroup(), expired)) {
      assertThat(catchThrowable(() -> raft.io().sendReadOnly(query()))).isNotNull();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void aNodeCertificateCannotUseRatisAdminService() throws Exception {
    Map<String, String> before = state();
    Tls client = cluster.tls("mallory", Tls.CertRole.CLIENT);
    Tls voter = cluster.tls("n2", Tls.CertRole.VOTER);
    RaftGroup group = cluster.node("n1").raftGroup();
    for (Tls who : List.of(client, voter)) {
      try (RaftClient raft = client(group, who)) {
        Throwable remove = catchThrowable(() -> raft.getGroupManagementApi(RaftPeerId.valueOf("n3"))
            .remove(group.getGroupId(), true, false));
        assertThat(remove).hasStackTraceContaining("PERMISSION_DENIED").hasStackTraceContaining("admin certificate");
        List<RaftPeer> one = List.of(group.getPeer(RaftPeerId.valueOf("n1")));
        Throwable shrink = catchThrowable(() -> raft.admin().setConfiguration(one));
        assertThat(shrink).hasStackTraceContaining("PERMISSION_DENIED");
      }
    }
    assertThat(cluster.node("n1").members().stream().filter(Member::voter).map(Member::nodeId))
        .containsExactlyInAnyOrder("n1", "n2", "n3");
    assertThat(cluster.node("n3").registry("services", Keys.UNIQUE, ValueCodec.utf8()).whereis("billing"))
        .isEqualTo(worker.pid());
    assertThat(state()).isEqualTo(before);
  }

  @Test
  void onlyAVoterUsesRaftsPeerServiceAndOnlyForItself() {
    RaftGroup group = cluster.node("n1").raftGroup();
    String n1 = cluster.voters().get("n1");
    // a client certificate, and voter n3's own certificate sending a vote request as n2
    Throwable asClient = vote(n1, cluster.tls("mallory", Tls.CertRole.CLIENT), "mallory", group);
    assertThat(asClient).isInstanceOf(StatusRuntimeException.class);
    assertThat(((StatusRuntimeException) asClient).getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    Throwable disguised = vote(n1, cluster.tls("n2", Tls.CertRole.CLIENT), "n2", group);
    assertThat(((StatusRuntimeException) disguised).getStatus().getDescription())
        .isEqualTo("the id of a configured voter on a CLIENT certificate");
    Throwable asOther = vote(n1, cluster.tls("n3", Tls.CertRole.VOTER), "n2", group);
    assertThat(asOther).isInstanceOf(StatusRuntimeException.class);
    assertThat(((StatusRuntimeException) asOther).getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(((StatusRuntimeException) asOther).getStatus().getDescription()).isEqualTo("voter n3 cannot send for n2");
  }

  @Test
  void aHelloNamingAnotherNodeIsRefusedAndDeliversNothing() throws Exception {
    Node c1 = cluster.node("c1");
    LocalProcess target = c1.spawn();
    Throwable refused = stream(c1.messageAddress(), cluster.tls("mallory", Tls.CertRole.CLIENT), "n1", c1,
        Frame.newBuilder().setDeliver(Deliver.newBuilder().setTo(Codec.toProto(target.pid()))
            .setBody(ByteString.copyFromUtf8("forged"))).build());
    assertThat(refused).isInstanceOf(StatusRuntimeException.class).hasMessageContaining("hello names n1");
    assertThat(target.receive(Duration.ofMillis(200))).isNull();
  }

  @Test
  void aNodeStartsOnlyWithTlsOrAnExplicitInsecureChoiceAndItsOwnCertificate() {
    RegistryNode.Builder none = RegistryNode.builder().nodeId("c2").role(Role.CLIENT);
    cluster.voters().forEach(none::voter);
    assertThatThrownBy(none::start).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("TLS is required");
    RegistryNode.Builder borrowed = RegistryNode.builder().nodeId("c2").role(Role.CLIENT)
        .tls(cluster.tls("c1", Tls.CertRole.CLIENT));
    cluster.voters().forEach(borrowed::voter);
    assertThatThrownBy(borrowed::start).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("tls: the certificate names node 'c1' (CN), not this node 'c2'");
    RegistryNode.Builder promoted = RegistryNode.builder().nodeId("c2").role(Role.CLIENT)
        .tls(cluster.tls("c2", Tls.CertRole.VOTER));
    cluster.voters().forEach(promoted::voter);
    assertThatThrownBy(promoted::start).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("tls: node c2 runs as CLIENT but its certificate's role (OU) is voter");
  }

  /** What every node's mirror holds of the registry: equal before and after each attack. */
  private Map<String, String> state() {
    Map<String, String> out = new TreeMap<>();
    for (Node n : cluster.nodes()) {
      Registry<String> r = n.registry("services", Keys.UNIQUE, ValueCodec.utf8());
      out.put(n.nodeId(), String.valueOf(r.whereisConsistent("billing")) + " " + r.lookup("billing"));
    }
    return out;
  }

  /** A read barrier: what any member may ask. */
  private static Message query() {
    return Message.valueOf(org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations.unsafeWrap(
        io.roster.proto.Query.newBuilder()
            .setBarrier(io.roster.proto.Barrier.getDefaultInstance()).build().toByteArray()));
  }

  /** A Ratis client with {@code tls} (null: plaintext), one try of 3 s. */
  private static RaftClient client(RaftGroup group, Tls tls) {
    RaftProperties p = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(3, TimeUnit.SECONDS));
    Parameters parameters = new Parameters();
    if (tls != null) {
      GrpcConfigKeys.TLS.setConf(parameters, new GrpcTlsConfig(tls.keyManager(), tls.trustManager(), true));
    }
    return RaftClient.newBuilder().setClientId(ClientId.randomId()).setProperties(p).setParameters(parameters)
        .setRaftGroup(group).setRetryPolicy(RetryPolicies.noRetry()).build();
  }

  /** One RequestVote to the voter at {@code address}, naming {@code sender}, with {@code tls}; its failure. */
  private static Throwable vote(String address, Tls tls, String sender, RaftGroup group) {
    ManagedChannel channel = channel(address, tls);
    try {
      RequestVoteRequestProto request = RequestVoteRequestProto.newBuilder()
          .setServerRequest(RaftRpcRequestProto.newBuilder()
              .setRequestorId(org.apache.ratis.thirdparty.com.google.protobuf.ByteString.copyFromUtf8(sender))
              .setReplyId(org.apache.ratis.thirdparty.com.google.protobuf.ByteString.copyFromUtf8("n1"))
              .setRaftGroupId(org.apache.ratis.proto.RaftProtos.RaftGroupIdProto.newBuilder()
                  .setId(group.getGroupId().toByteString())))
          .setCandidateTerm(1_000_000).build();
      return catchThrowable(() -> RaftServerProtocolServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(10, TimeUnit.SECONDS).requestVote(request));
    } finally {
      channel.shutdownNow();
    }
  }

  private static ManagedChannel channel(String address, Tls tls) {
    try {
      int colon = address.lastIndexOf(':');
      return NettyChannelBuilder.forAddress(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)))
          .sslContext(GrpcSslContexts.forClient().keyManager(tls.keyManager()).trustManager(tls.trustManager()).build())
          .build();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /**
   * Opens a messaging stream to {@code to} with {@code tls}, says hello as {@code as}, sends
   * {@code frames}; returns how the stream ended (null if it stayed open for 5 s).
   */
  private static Throwable stream(String address, Tls tls, String as, Node to, Frame... frames) throws Exception {
    ManagedChannel channel = channel(address, tls);
    try {
      CompletableFuture<Throwable> ended = new CompletableFuture<>();
      StreamObserver<byte[]> out = ClientCalls.asyncBidiStreamingCall(channel.newCall(MESSAGING, CallOptions.DEFAULT),
          endsIn(ended));
      out.onNext(Frame.newBuilder().setHello(Hello.newBuilder().setFromNode(as).setFromIncarnation(1)
          .setToNode(to.nodeId()).setToIncarnation(to.incarnation())).build().toByteArray());
      for (Frame f : frames) {
        out.onNext(f.toByteArray());
      }
      try {
        return ended.get(5, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException open) {
        return null;
      }
    } finally {
      channel.shutdownNow();
    }
  }


  private static final MethodDescriptor<byte[], byte[]> MESSAGING = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
      .setFullMethodName("roster.v1.Messaging/Stream")
      .setRequestMarshaller(BytesMarshaller.INSTANCE).setResponseMarshaller(BytesMarshaller.INSTANCE).build();
}
