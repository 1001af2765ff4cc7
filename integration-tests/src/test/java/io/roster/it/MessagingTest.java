package io.roster.it;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.roster.CallException;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Mail;
import io.roster.NotRegisteredException;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.ValueCodec;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * send and call to named processes across a real 3-voter cluster and a client node, over the
 * nodes' message streams on loopback.
 */
class MessagingTest {
  static final Duration WAIT = Duration.ofSeconds(30);
  /** Long enough that a failure reported before it is not a timeout. */
  static final Duration LONG = Duration.ofSeconds(60);

  @TempDir Path dir;
  LocalCluster cluster;
  Node n1;
  Node n2;
  Node client;

  @BeforeEach
  void start() {
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(2), Duration.ofSeconds(10));
    cluster.awaitReady(WAIT);
    n1 = cluster.node("n1");
    n2 = cluster.node("n2");
    client = cluster.startClient("c1");
    client.ready().join();
  }

  @AfterEach
  void stop() {
    cluster.close();
  }

  Registry<String> names(Node node) {
    return node.registry("services", Keys.UNIQUE, ValueCodec.utf8());
  }

  /** A process that echoes calls in upper case and keeps what it was sent. */
  static LocalProcess echo(Node node, List<String> received) {
    return node.spawn((self, mail) -> {
      String text = new String(mail.body(), UTF_8);
      if (mail.isCall()) {
        mail.reply(text.toUpperCase().getBytes(UTF_8));
      } else {
        received.add(text);
      }
    });
  }

  @Test
  void sendAndCallAcrossNodesInBothDirections() {
    List<String> atN1 = new CopyOnWriteArrayList<>();
    List<String> atClient = new CopyOnWriteArrayList<>();
    names(n1).register("on-n1", echo(n1, atN1));
    names(client).register("on-client", echo(client, atClient));
    Awaitility.await().atMost(WAIT).until(() -> names(n1).whereis("on-client") != null
        && names(client).whereis("on-n1") != null);

    assertThat(names(client).send("on-n1", "from the client".getBytes(UTF_8)))
        .isEqualTo(names(n1).whereis("on-n1"));
    assertThat(names(n1).send("on-client", "from n1".getBytes(UTF_8))).isEqualTo(names(n1).whereis("on-client"));
    Awaitility.await().atMost(WAIT).until(() -> atN1.contains("from the client") && atClient.contains("from n1"));

    assertThat(names(client).call("on-n1", "ping", ValueCodec.utf8(), ValueCodec.utf8(), WAIT)).isEqualTo("PING");
    assertThat(names(n1).call("on-client", "pong", ValueCodec.utf8(), ValueCodec.utf8(), WAIT)).isEqualTo("PONG");
    // a voter calling a voter, and a node calling its own process, take the same API
    assertThat(new String(names(n2).call("on-n1", "x".getBytes(UTF_8), WAIT), UTF_8)).isEqualTo("X");
    assertThat(new String(names(n1).call("on-n1", "self".getBytes(UTF_8), WAIT), UTF_8)).isEqualTo("SELF");
    assertThat(client.members()).allSatisfy(m -> assertThat(m.address()).matches(".+:\\d+"));
  }

  @Test
  void tenThousandMessagesFromOneNodeArriveInOrder() {
    int count = 10_000;
    List<Integer> received = new CopyOnWriteArrayList<>();
    CountDownLatch all = new CountDownLatch(count);
    LocalProcess sink = n2.spawn((self, mail) -> {
      received.add(ByteBuffer.wrap(mail.body()).getInt());
      all.countDown();
    });
    Pid to = sink.pid();
    Awaitility.await().atMost(WAIT).until(() -> client.members().stream().anyMatch(m -> m.nodeId().equals("n2")));
    int sent = 0;
    while (sent < count) {
      try {
        assertThat(client.send(to, ByteBuffer.allocate(4).putInt(sent).array())).isTrue();
        sent++;
      } catch (io.roster.LimitExceededException full) {
        Thread.onSpinWait(); // the stream's queue is full: the receiver is slower; send it again
      }
    }
    Awaitility.await("all " + count + " messages").atMost(WAIT).until(() -> all.getCount() == 0);
    assertThat(received).hasSize(count);
    for (int i = 0; i < count; i++) {
      assertThat(received.get(i)).as("message %s", i).isEqualTo(i);
    }
    assertThat(n2.messagesDropped()).isZero();
  }

  @Test
  void aCallTimesOutWhenNobodyAnswers() {
    LocalProcess silent = n1.spawn((self, mail) -> { }); // takes calls and never answers
    names(n1).register("silent", silent);
    Awaitility.await().atMost(WAIT).until(() -> names(n2).whereis("silent") != null);
    assertThatThrownBy(() -> names(n2).call("silent", new byte[] {1}, Duration.ofMillis(300)))
        .isInstanceOfSatisfying(CallException.class, e -> assertThat(e.reason()).isEqualTo(CallException.Reason.TIMEOUT));
  }

  @Test
  void aCalleeThatDiesFailsTheCallAtOnce() {
    LocalProcess fragile = n1.spawn((self, mail) -> {
      throw new IllegalStateException("cannot answer");
    });
    names(n1).register("fragile", fragile);
    Awaitility.await().atMost(WAIT).until(() -> names(client).whereis("fragile") != null);
    assertThatThrownBy(() -> names(client).call("fragile", new byte[] {1}, LONG))
        .isInstanceOfSatisfying(CallException.class, e ->
            assertThat(e.reason()).isEqualTo(CallException.Reason.CALLEE_DIED));
    // and a call to the dead process (its name may still be on this mirror) fails without waiting too
    assertThatThrownBy(() -> client.call(fragile.pid(), new byte[] {1}, LONG))
        .isInstanceOfSatisfying(CallException.class, e ->
            assertThat(e.reason()).isEqualTo(CallException.Reason.NO_PROCESS));
  }

  @Test
  void aCalleeWhoseNodeDiesFailsTheCallAtOnce() throws Exception {
    CountDownLatch called = new CountDownLatch(1);
    LocalProcess doomed = n1.spawn((self, mail) -> called.countDown()); // holds the call unanswered
    names(n1).register("doomed", doomed);
    Awaitility.await().atMost(WAIT).until(() -> names(client).whereis("doomed") != null);
    CompletableFuture<byte[]> pending = client.callAsync(doomed.pid(), new byte[] {1}, LONG);
    assertThat(called.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
    cluster.crash("n1");
    assertThat(pending).failsWithin(WAIT).withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .havingCause().isInstanceOfSatisfying(CallException.class, e ->
            assertThat(e.reason()).isIn(CallException.Reason.NODE_UNREACHABLE, CallException.Reason.CALLEE_DIED));
  }

  @Test
  void sendToANameThatIsNotRegisteredNamesTheKey() {
    assertThatThrownBy(() -> names(n1).send("nobody", new byte[] {1}))
        .isInstanceOfSatisfying(NotRegisteredException.class, e -> assertThat(e.key()).isEqualTo("nobody"))
        .hasMessageContaining("nobody");
    assertThatThrownBy(() -> names(n1).call("nobody", new byte[] {1}, WAIT)).isInstanceOf(NotRegisteredException.class);
    Registry<String> topics = n1.registry("topics", Keys.DUPLICATE, ValueCodec.utf8());
    assertThatThrownBy(() -> topics.send("t", new byte[] {1})).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aNameReRegisteredElsewhereAfterItsOwnerDiedIsFollowed() {
    List<String> first = new CopyOnWriteArrayList<>();
    List<String> second = new CopyOnWriteArrayList<>();
    LocalProcess old = echo(n1, first);
    names(n1).register("worker", old);
    Awaitility.await().atMost(WAIT).until(() -> names(client).whereis("worker") != null);
    names(client).send("worker", "one".getBytes(UTF_8));
    Awaitility.await().atMost(WAIT).until(() -> first.contains("one"));

    old.close();
    LocalProcess replacement = echo(n2, second);
    Awaitility.await("the name is free and taken again on n2").atMost(WAIT).ignoreExceptions().until(() -> {
      names(n2).register("worker", replacement);
      return true;
    });
    Awaitility.await().atMost(WAIT).until(() -> replacement.pid().equals(names(client).whereis("worker")));
    assertThat(names(client).send("worker", "two".getBytes(UTF_8))).isEqualTo(replacement.pid());
    assertThat(names(client).call("worker", "three", ValueCodec.utf8(), ValueCodec.utf8(), WAIT)).isEqualTo("THREE");
    Awaitility.await().atMost(WAIT).until(() -> second.contains("two"));
    assertThat(first).containsExactly("one");
  }

  @Test
  void aViaNamedProcessIsReachableFromEveryNode() {
    Registry<String> r = names(n2);
    LocalProcess service = n2.spawn(r.via("greeter"), (self, mail) -> mail.reply(("hello " + new String(mail.body(), UTF_8)).getBytes(UTF_8)));
    for (Node from : List.of(n1, n2, cluster.node("n3"), client)) {
      Awaitility.await().atMost(WAIT).until(() -> service.pid().equals(names(from).whereis("greeter")));
      assertThat(names(from).call("greeter", from.nodeId(), ValueCodec.utf8(), ValueCodec.utf8(), WAIT))
          .isEqualTo("hello " + from.nodeId());
    }
  }

  /** The README's pub/sub example: subscribers on two nodes, a publisher on a third. */
  @Test
  void pubSubFromADuplicateRegistryDispatchAndSend() {
    List<String> euro = new CopyOnWriteArrayList<>();
    List<String> dollar = new CopyOnWriteArrayList<>();
    Registry<String> onN1 = n1.registry("topics", Keys.DUPLICATE, ValueCodec.utf8());
    Registry<String> onClient = client.registry("topics", Keys.DUPLICATE, ValueCodec.utf8());
    LocalProcess eur = n1.spawn((self, mail) -> euro.add(new String(mail.body(), UTF_8)));
    LocalProcess usd = client.spawn((self, mail) -> dollar.add(new String(mail.body(), UTF_8)));
    onN1.register("prices", eur, "EUR");
    onClient.register("prices", usd, "USD");

    Node publisherNode = n2;
    Registry<String> topics = publisherNode.registry("topics", Keys.DUPLICATE, ValueCodec.utf8());
    Awaitility.await().atMost(WAIT).until(() -> topics.lookup("prices").size() == 2);
    boolean published = topics.dispatch("prices", entries -> {
      for (io.roster.RegistryEntry<String> e : entries) {
        if (e.value().equals("EUR")) {
          publisherNode.send(e.pid(), "EUR/USD 1.08".getBytes(UTF_8));
        }
      }
    });
    assertThat(published).isTrue();
    Awaitility.await().atMost(WAIT).until(() -> euro.contains("EUR/USD 1.08"));
    assertThat(dollar).isEmpty();

    // a subscriber that dies leaves the topic with its process
    eur.close();
    Awaitility.await().atMost(WAIT).until(() -> topics.lookup("prices").size() == 1);
    assertThat(topics.dispatch("prices", entries -> entries.forEach(e -> publisherNode.send(e.pid(),
        "to all".getBytes(UTF_8))))).isTrue();
    Awaitility.await().atMost(WAIT).until(() -> dollar.contains("to all"));
    assertThat(euro).containsExactly("EUR/USD 1.08");
  }

  @Test
  void aProcessWithoutAHandlerReceivesWithATimeout() throws Exception {
    LocalProcess inbox = client.spawn();
    assertThat(inbox.receive(Duration.ofMillis(50))).isNull();
    assertThat(n1.send(inbox.pid(), "hi".getBytes(UTF_8))).isTrue();
    Mail m = inbox.receive(WAIT);
    assertThat(m).isNotNull();
    assertThat(new String(m.body(), UTF_8)).isEqualTo("hi");
    assertThat(m.isCall()).isFalse();
    // a call received the same way is answered by whoever holds it
    CompletableFuture<byte[]> answer = n1.callAsync(inbox.pid(), "q".getBytes(UTF_8), WAIT);
    Mail call = inbox.receive(WAIT);
    assertThat(call.isCall()).isTrue();
    assertThat(call.reply("a".getBytes(UTF_8))).isTrue();
    assertThat(call.reply("again".getBytes(UTF_8))).isFalse();
    assertThat(answer.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo("a".getBytes(UTF_8));
    LocalProcess handled = client.spawn((self, mail) -> { });
    assertThatThrownBy(() -> handled.receive(Duration.ZERO)).isInstanceOf(IllegalStateException.class);
  }
}
