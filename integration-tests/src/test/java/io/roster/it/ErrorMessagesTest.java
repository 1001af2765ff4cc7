package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.roster.Consistency;
import io.roster.Keys;
import io.roster.LimitExceededException;
import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.RegistryUnavailableException;
import io.roster.ValueCodec;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** What a user reads when something is wrong, and what an embedding application's log gets. */
class ErrorMessagesTest {
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  LocalCluster cluster;
  final ListAppender<ILoggingEvent> log = new ListAppender<>();

  @BeforeEach
  void start() {
    log.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(log);
    cluster = LocalCluster.start(dir, 3, Duration.ofSeconds(3), Duration.ofSeconds(2));
    cluster.startClient("c1");
    cluster.awaitReady(WAIT);
  }

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(log);
  }

  Registry<String> registry(String node) {
    return cluster.node(node).registry("errors", Keys.UNIQUE, ValueCodec.utf8());
  }

  @Test
  void anOversizedValueNamesTheValueLimit() {
    Registry<String> r = registry("n1");
    LocalProcess p = cluster.node("n1").spawn();
    String big = "x".repeat(10 << 20);
    assertThatThrownBy(() -> r.register("big", p, big)).isInstanceOf(LimitExceededException.class)
        .hasMessage("the value for 'big' is 10485760 bytes; registry 'errors' takes values of at most 16384 bytes");
    assertThatThrownBy(() -> r.putMeta("big", big)).isInstanceOf(LimitExceededException.class)
        .hasMessageContaining("takes values of at most 16384 bytes");
    assertThat(r.whereisConsistent("big")).isNull();
  }

  @Test
  void everyReadNamesANullArgument() {
    Registry<String> r = registry("c1");
    assertThatThrownBy(() -> r.whereis(null)).isInstanceOf(NullPointerException.class).hasMessage("key");
    assertThatThrownBy(() -> r.whereisConsistent(null)).isInstanceOf(NullPointerException.class).hasMessage("key");
    assertThatThrownBy(() -> r.lookup(null)).isInstanceOf(NullPointerException.class).hasMessage("key");
    assertThatThrownBy(() -> r.dispatch(null, e -> { })).isInstanceOf(NullPointerException.class).hasMessage("key");
    assertThatThrownBy(() -> r.meta(null)).isInstanceOf(NullPointerException.class).hasMessage("key");
    assertThatThrownBy(() -> r.keys(null)).isInstanceOf(NullPointerException.class).hasMessage("pid");
    assertThatThrownBy(() -> r.whereis("k", null)).isInstanceOf(NullPointerException.class).hasMessage("consistency");
    assertThatThrownBy(() -> r.at(null)).isInstanceOf(NullPointerException.class).hasMessage("consistency");
    assertThatThrownBy(() -> r.send(null, new byte[0])).isInstanceOf(NullPointerException.class).hasMessage("key");
  }

  @Test
  void keysAndNamesWithLoneSurrogatesAreRefusedAndChangeNothing() {
    Registry<String> r = registry("c1");
    LocalProcess p = cluster.node("c1").spawn();
    // on the wire a lone surrogate becomes '?': "\uD800" and "\uDBFF" would be one key
    assertThatThrownBy(() -> r.register("\uD800", p, "v")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("key is not well-formed UTF-16: a lone surrogate U+D800 at index 0");
    assertThatThrownBy(() -> r.register("ok\uDC00", p, "v")).hasMessageContaining("U+DC00 at index 2");
    assertThatThrownBy(() -> r.whereis("\uDBFF")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> r.lookup("\uDBFF")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> r.putMeta("\uD800", "v")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> cluster.node("c1").registry("reg\uD800", Keys.UNIQUE, ValueCodec.utf8()))
        .hasMessage("registry name is not well-formed UTF-16: a lone surrogate U+D800 at index 3");
    assertThat(r.whereisConsistent("?")).isNull();
    assertThat(r.keys(p.pid())).isEmpty();
    // a pair is one character and fine
    r.register("\uD83D\uDE00", p, "v");
    assertThat(r.whereisConsistent("\uD83D\uDE00")).isEqualTo(p.pid());
  }

  @Test
  void aRevisionNeverReachedSaysWhereTheMirrorIs() {
    Registry<String> r = registry("c1");
    long never = Long.MAX_VALUE / 2;
    assertThatThrownBy(() -> r.whereis("k", Consistency.atLeast(never)))
        .isInstanceOf(RegistryUnavailableException.class)
        .hasMessageStartingWith("revision " + never + " was not reached within 2000 ms: this node's mirror of cluster "
            + "has applied up to revision ");
  }

  @Test
  void aWatchAfterARevisionNeverReachedIsRefused() {
    Registry<String> r = registry("n2");
    assertThatThrownBy(() -> r.watch(Long.MAX_VALUE, e -> { }))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("cannot watch cluster after revision " + Long.MAX_VALUE + ": revision " + Long.MAX_VALUE
            + " was not reached within 2000 ms");
  }

  @Test
  void noQuorumSaysSoInRosterWordsWithRatisAsTheCause() {
    Registry<String> r = registry("n1");
    LocalProcess p = cluster.node("n1").spawn();
    r.register("before", p, "v");
    cluster.crash("n2");
    cluster.crash("n3");
    Throwable error = org.assertj.core.api.Assertions.catchThrowable(() -> r.register("after", p, "v"));
    assertThat(error).isInstanceOf(RegistryUnavailableException.class);
    assertThat(error.getMessage()).startsWith("no leader or no quorum: ").contains("voters n1, n2, n3")
        .doesNotContain("RaftClientRequest").doesNotContain("RetryLimited");
    assertThat(error.getMessage().length()).isLessThan(250);
    assertThat(error.getCause()).isNotNull();
  }

  @Test
  void aWriteWhoseSessionCannotOpenSaysSoWithinTheRequestTimeout() {
    registry("n1").register("before", cluster.node("n1").spawn(), "v");
    cluster.crash("n1");
    cluster.crash("n2");
    cluster.crash("n3");
    Node alone = cluster.startVoter("n1"); // its new session cannot open: no quorum
    Throwable error = org.assertj.core.api.Assertions.catchThrowable(() ->
        alone.registry("errors", Keys.UNIQUE, ValueCodec.utf8()).register("after", alone.spawn(), "v"));
    // one deadline covers the wait for the session and the commit: the session's wait used it up
    assertThat(error).isInstanceOf(RegistryUnavailableException.class);
    assertThat(error.getMessage()).startsWith("no leader or no quorum: this node's session in cluster did not open "
        + "within 2000 ms").contains("voters n1, n2, n3");
  }

  @Test
  void leaderFailoverAndPartitionCreationLogNoError() {
    Node client = cluster.node("c1");
    cluster.node("n1").registry("spread", Keys.UNIQUE, 4, ValueCodec.utf8()); // a voter creates a partitioned registry
    Registry<String> partitioned = client.registry("spread", Keys.UNIQUE, 4, ValueCodec.utf8());
    LocalProcess p = client.spawn();
    for (int i = 0; i < 20; i++) {
      partitioned.register("k" + i, p, "v");
    }
    Node leader = Awaitility.await().atMost(WAIT).until(cluster::leader, l -> l != null);
    String id = leader.nodeId();
    cluster.crash(id);
    Awaitility.await().atMost(WAIT).until(() -> cluster.leader() != null);
    cluster.nodes().stream().filter(n -> n.role() == io.roster.Role.VOTER).findFirst().orElseThrow()
        .registry("after-failover", Keys.UNIQUE, 4, ValueCodec.utf8());
    Registry<String> afterFailover = client.registry("after-failover", Keys.UNIQUE, 4, ValueCodec.utf8());
    for (int i = 0; i < 20; i++) {
      afterFailover.register("k" + i, p, "v");
      registry("c1").register("c" + i, p, "v");
    }
    Node back = cluster.startVoter(id);
    Awaitility.await().atMost(WAIT).until(() -> back.ready().isDone());
    Awaitility.await().atMost(WAIT).until(() -> back.partitionGroups("after-failover").size() == 4
        || back.mirror().registry("after-failover") != null);
    List<ILoggingEvent> logged;
    synchronized (log) { // the appender appends under its own lock, from every thread
      logged = new java.util.ArrayList<>(log.list);
    }
    List<String> errors = logged.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.ERROR))
        .map(e -> e.getLoggerName() + ": " + e.getFormattedMessage()).toList();
    assertThat(errors).as("ERROR lines").isEmpty();
  }
}
