package io.roster.it;

import static io.roster.Consistency.LINEARIZABLE;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.roster.AlreadyRegisteredException;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.RegistryEntry;
import io.roster.ValueCodec;
import io.roster.ValueUpdate;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Each documented example of Elixir's {@code Registry} (../shared/seeds/004), as a Java twin named
 * after the function it mirrors, against one real 3-voter cluster (Ratis over loopback gRPC,
 * RocksDB in a temp dir). Each test uses registries of its own.
 *
 * <p>Elixir's examples read in the process that wrote, on one node. Here the writer is a process of
 * one node and reads happen on another node, after {@code at(LINEARIZABLE)}: the cluster-wide form
 * of the same behaviour. Elixir's tuples such as {@code {1, :atom, 1}} become a {@link Triple}
 * through a codec of the test's own (the registry stores bytes only).
 */
class ElixirRegistryExamplesTest {
  static final Duration SESSION_TIMEOUT = Duration.ofSeconds(5);
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

  static Path dir;
  static LocalCluster cluster;
  static Node writer;
  static Node reader;
  static final AtomicInteger names = new AtomicInteger();

  /** {@code {a, b, c}} of the Elixir examples. */
  record Triple(int a, String b, int c) {}

  /** A pluggable codec: "a,b,c" in UTF-8. */
  static final ValueCodec<Triple> TRIPLES = new ValueCodec<>() {
    @Override
    public byte[] encode(Triple t) {
      return (t.a() + "," + t.b() + "," + t.c()).getBytes(UTF_8);
    }

    @Override
    public Triple decode(byte[] bytes) {
      String[] parts = new String(bytes, UTF_8).split(",", -1);
      if (parts.length != 3) {
        throw new IllegalArgumentException("not a triple: " + new String(bytes, UTF_8));
      }
      return new Triple(Integer.parseInt(parts[0]), parts[1], Integer.parseInt(parts[2]));
    }
  };

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory("roster-elixir-");
    cluster = LocalCluster.start(dir, 3, SESSION_TIMEOUT, REQUEST_TIMEOUT);
    cluster.awaitReady(Duration.ofSeconds(60));
    writer = cluster.node("n1");
    reader = cluster.node("n2");
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
    LocalCluster.deleteTree(dir);
  }

  /** The same registry on the writer's node and on the reader's node. */
  record Pair<V>(Registry<V> here, Registry<V> there) {
    /** The reader's view, once it has every write acknowledged so far. */
    Registry<V> read() {
      return there.at(LINEARIZABLE);
    }
  }

  static <V> Pair<V> registry(String name, Keys keys, ValueCodec<V> codec) {
    String unique = name + "-" + names.incrementAndGet();
    return new Pair<>(writer.registry(unique, keys, codec), reader.registry(unique, keys, codec));
  }

  static Pair<String> strings(String name, Keys keys) {
    return registry(name, keys, ValueCodec.utf8());
  }

  /** Elixir's {@code start_link(keys: ..., name: ..., meta: [...])}: created by the writer with its metadata. */
  static Pair<String> stringsWithMeta(String name, Keys keys, Map<String, String> meta) {
    String unique = name + "-" + names.incrementAndGet();
    return new Pair<>(writer.registry(unique, keys, 1, ValueCodec.utf8(), meta),
        reader.registry(unique, keys, ValueCodec.utf8()));
  }

  @Test
  void count() {
    Pair<String> unique = strings("UniqueCountTest", Keys.UNIQUE);
    LocalProcess self = writer.spawn();
    assertThat(unique.read().count()).isZero();
    unique.here().register("hello", self, "world");
    unique.here().register("world", self, "world");
    assertThat(unique.read().count()).isEqualTo(2);

    Pair<String> duplicate = strings("DuplicateCountTest", Keys.DUPLICATE);
    assertThat(duplicate.read().count()).isZero();
    duplicate.here().register("hello", self, "world");
    duplicate.here().register("hello", self, "world");
    assertThat(duplicate.read().count()).isEqualTo(2);
  }

  @Test
  void countMatch() {
    Pair<Triple> r = registry("CountMatchTest", Keys.DUPLICATE, TRIPLES);
    LocalProcess self = writer.spawn();
    r.here().register("hello", self, new Triple(1, "atom", 1));
    r.here().register("hello", self, new Triple(2, "atom", 2));
    Registry<Triple> there = r.read();
    assertThat(there.countMatch("hello", t -> t.a() == 1)).isEqualTo(1);          // {1, :_, :_}
    assertThat(there.countMatch("hello", t -> t.a() == 2)).isEqualTo(1);          // {2, :_, :_}
    assertThat(there.countMatch("hello", t -> t.b().equals("atom"))).isEqualTo(2); // {:_, :atom, :_}
    assertThat(there.countMatch("hello", t -> t.a() == t.c())).isEqualTo(2);      // {:"$1", :_, :"$1"}
    assertThat(there.countMatch("hello", t -> t.c() > 1)).isEqualTo(1);           // {:_, :_, :"$1"}, [{:>, :"$1", 1}]
    assertThat(there.countMatch("hello", t -> t.b() != null)).isEqualTo(2);       // [{:is_atom, :"$1"}]
    assertThat(there.countMatch("missing", t -> true)).isZero();
  }

  @Test
  void countSelect() {
    Pair<String> r = strings("CountSelectTest", Keys.UNIQUE);
    LocalProcess self = writer.spawn();
    r.here().register("hello", self, "value");
    r.here().register("world", self, "value");
    // [{{:_, :_, :value}, [], [true]}]
    assertThat(r.read().countSelect(e -> e.value().equals("value"))).isEqualTo(2);
  }

  @Test
  void deleteMeta() {
    Pair<String> r = stringsWithMeta("DeleteMetaTest", Keys.UNIQUE, Map.of("custom_key", "custom_value"));
    assertThat(r.read().meta("custom_key")).contains("custom_value");
    r.here().deleteMeta("custom_key");
    assertThat(r.read().meta("custom_key")).isEmpty();
  }

  @Test
  void dispatch() {
    Pair<String> r = strings("DispatcherTest", Keys.DUPLICATE);
    LocalProcess self = writer.spawn();
    r.here().register("hello", self, "IO.inspect");
    List<String> invoked = new ArrayList<>();
    boolean called = r.read().dispatch("hello", entries -> {
      for (RegistryEntry<String> e : entries) {
        invoked.add(e.value() + "(" + e.pid() + ")"); // apply(module, function, [pid])
      }
    });
    assertThat(called).isTrue();
    assertThat(invoked).containsExactly("IO.inspect(" + self.pid() + ")");
    // no entries: the callback is never invoked
    assertThat(r.read().dispatch("nobody", entries -> invoked.add("never"))).isFalse();
    assertThat(invoked).hasSize(1);
  }

  @Test
  void keys() {
    Pair<String> unique = strings("UniqueKeysTest", Keys.UNIQUE);
    LocalProcess self = writer.spawn();
    assertThat(unique.read().keys(self.pid())).isEmpty();
    unique.here().register("hello", self, "world");
    assertThatThrownBy(() -> unique.here().register("hello", self, "later")) // registry is unique
        .isInstanceOfSatisfying(AlreadyRegisteredException.class, e -> assertThat(e.owner()).isEqualTo(self.pid()));
    assertThat(unique.read().keys(self.pid())).containsExactly("hello");

    Pair<String> duplicate = strings("DuplicateKeysTest", Keys.DUPLICATE);
    assertThat(duplicate.read().keys(self.pid())).isEmpty();
    duplicate.here().register("hello", self, "world");
    duplicate.here().register("hello", self, "world");
    assertThat(duplicate.read().keys(self.pid())).containsExactly("hello", "hello");
  }

  @Test
  void lock() {
    Pair<String> r = strings("LockTest", Keys.UNIQUE);
    String ok = r.here().lock("hello", token -> "ok");
    assertThat(ok).isEqualTo("ok");
    Thread self = Thread.currentThread(); // the function runs in the caller
    Thread ran = r.there().lock("world", token -> Thread.currentThread());
    assertThat(ran).isSameAs(self);
    // lock keys have their own namespace: a registration key of the same name is unaffected
    LocalProcess p = writer.spawn();
    r.here().register("hello", p, "v");
    long token = r.here().lock("hello", t -> t);
    assertThat(token).isPositive();
  }

  @Test
  void via() {
    Pair<String> r = strings("ViaTest", Keys.UNIQUE);
    LocalProcess agent = writer.spawn(r.here().via("agent"), null);
    assertThat(r.read().lookup("agent")).extracting(RegistryEntry::pid).containsExactly(agent.pid());
    LocalProcess withValue = writer.spawn(r.here().via("agent2", "hello"), null);
    assertThat(r.read().lookup("agent2")).extracting(RegistryEntry::pid, RegistryEntry::value)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(withValue.pid(), "hello"));
    assertThatThrownBy(() -> reader.spawn(r.there().via("agent2"), null))
        .isInstanceOfSatisfying(io.roster.AlreadyStartedException.class,
            e -> assertThat(e.owner()).isEqualTo(withValue.pid()));
  }

  @Test
  void lookup() {
    Pair<String> unique = strings("UniqueLookupTest", Keys.UNIQUE);
    LocalProcess self = writer.spawn();
    assertThat(unique.read().lookup("hello")).isEmpty();
    unique.here().register("hello", self, "world");
    assertThat(unique.read().lookup("hello")).extracting(RegistryEntry::pid, RegistryEntry::value)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(self.pid(), "world"));

    Pair<String> duplicate = strings("DuplicateLookupTest", Keys.DUPLICATE);
    assertThat(duplicate.read().lookup("hello")).isEmpty();
    duplicate.here().register("hello", self, "world");
    assertThat(duplicate.read().lookup("hello")).extracting(RegistryEntry::value).containsExactly("world");
    duplicate.here().register("hello", self, "another");
    assertThat(duplicate.read().lookup("hello")).extracting(RegistryEntry::value)
        .containsExactlyInAnyOrder("another", "world");
  }

  @Test
  void match() {
    Pair<Triple> r = registry("MatchTest", Keys.DUPLICATE, TRIPLES);
    LocalProcess self = writer.spawn();
    Triple one = new Triple(1, "atom", 1);
    Triple two = new Triple(2, "atom", 2);
    r.here().register("hello", self, one);
    r.here().register("hello", self, two);
    Registry<Triple> there = r.read();
    assertThat(values(there.match("hello", t -> t.a() == 1))).containsExactly(one);
    assertThat(values(there.match("hello", t -> t.a() == 2))).containsExactly(two);
    assertThat(values(there.match("hello", t -> t.b().equals("atom")))).containsExactlyInAnyOrder(one, two);
    assertThat(values(there.match("hello", t -> t.a() == t.c()))).containsExactlyInAnyOrder(one, two);
    assertThat(values(there.match("hello", t -> t.c() > 1))).containsExactly(two);
    assertThat(values(there.match("hello", t -> t.b() != null))).containsExactlyInAnyOrder(one, two);
    assertThat(there.match("hello", t -> true)).allSatisfy(e -> assertThat(e.pid()).isEqualTo(self.pid()));
  }

  @Test
  void meta() {
    Pair<String> r = stringsWithMeta("MetaTest", Keys.UNIQUE, Map.of("custom_key", "custom_value"));
    assertThat(r.read().meta("custom_key")).contains("custom_value");
    assertThat(r.read().meta("unknown_key")).isEmpty();
  }

  @Test
  void putMeta() {
    Pair<String> r = strings("PutMetaTest", Keys.UNIQUE);
    r.here().putMeta("custom_key", "custom_value");
    assertThat(r.read().meta("custom_key")).contains("custom_value");
    r.here().putMeta("{tuple, key}", "tuple_value");
    assertThat(r.read().meta("{tuple, key}")).contains("tuple_value");
  }

  @Test
  void register() {
    Pair<String> unique = strings("UniqueRegisterTest", Keys.UNIQUE);
    LocalProcess self = writer.spawn();
    unique.here().register("hello", self, "world");
    assertThatThrownBy(() -> unique.here().register("hello", self, "later"))
        .isInstanceOfSatisfying(AlreadyRegisteredException.class, e -> assertThat(e.owner()).isEqualTo(self.pid()));
    assertThat(unique.read().keys(self.pid())).containsExactly("hello");

    Pair<String> duplicate = strings("DuplicateRegisterTest", Keys.DUPLICATE);
    duplicate.here().register("hello", self, "world");
    duplicate.here().register("hello", self, "world");
    assertThat(duplicate.read().keys(self.pid())).containsExactly("hello", "hello");
  }

  @Test
  void registerWithNoValueReadsBackAsNil() {
    // Registry.register(registry, key, nil): lookup gives [{self(), nil}], not the codec's reading of nothing
    Pair<String> r = strings("NilValueTest", Keys.UNIQUE);
    LocalProcess self = writer.spawn();
    r.here().register("none", self);
    r.here().register("empty", self, "");
    assertThat(r.read().lookup("none")).singleElement().satisfies(e -> assertThat(e.value()).isNull());
    assertThat(r.read().lookup("empty")).singleElement().satisfies(e -> assertThat(e.value()).isEqualTo(""));
    assertThat(r.here().updateValue("none", self, old -> old == null ? "was nil" : "was " + old))
        .hasValueSatisfying(u -> {
          assertThat(u.oldValue()).isNull();
          assertThat(u.newValue()).isEqualTo("was nil");
        });
    r.here().updateValue("none", self, old -> null);
    assertThat(r.read().lookup("none")).singleElement().satisfies(e -> assertThat(e.value()).isNull());
  }

  @Test
  void select() {
    Pair<String> all = strings("SelectAllTest", Keys.UNIQUE);
    LocalProcess self = writer.spawn();
    all.here().register("hello", self, "value");
    all.here().register("world", self, "value");
    // [{{:"$1", :"$2", :"$3"}, [], [{{:"$1", :"$2", :"$3"}}]}]
    assertThat(all.read().select(e -> true, e -> List.of(e.key(), e.pid(), e.value())))
        .containsExactlyInAnyOrder(List.of("hello", self.pid(), "value"), List.of("world", self.pid(), "value"));

    Pair<String> keys = strings("SelectKeysTest", Keys.UNIQUE);
    keys.here().register("hello", self, "value");
    keys.here().register("world", self, "value");
    // [{{:"$1", :_, :_}, [], [:"$1"]}]
    assertThat(keys.read().select(e -> true, RegistryEntry::key)).containsExactlyInAnyOrder("hello", "world");
    // a body that shapes a map: %{key: :"$1", pid: :"$2", value: :"$3"}
    assertThat(keys.read().select(e -> e.key().equals("hello"), e -> Map.of("key", e.key(), "value", e.value())))
        .containsExactly(Map.of("key", "hello", "value", "value"));
  }

  @Test
  void unregister() {
    Pair<String> unique = strings("UniqueUnregisterTest", Keys.UNIQUE);
    LocalProcess self = writer.spawn();
    unique.here().register("hello", self, "world");
    assertThat(unique.read().keys(self.pid())).containsExactly("hello");
    unique.here().unregister("hello", self).join();
    assertThat(unique.read().keys(self.pid())).isEmpty();

    Pair<String> duplicate = strings("DuplicateUnregisterTest", Keys.DUPLICATE);
    duplicate.here().register("hello", self, "world");
    duplicate.here().register("hello", self, "world");
    assertThat(duplicate.read().keys(self.pid())).containsExactly("hello", "hello");
    duplicate.here().unregister("hello", self); // fire-and-forget: hidden on this node at once
    assertThat(duplicate.here().keys(self.pid())).isEmpty();
    org.awaitility.Awaitility.await().atMost(REQUEST_TIMEOUT)
        .untilAsserted(() -> assertThat(duplicate.read().keys(self.pid())).isEmpty());
  }

  @Test
  void unregisterMatch() {
    Pair<String> unique = strings("UniqueUnregisterMatchTest", Keys.UNIQUE);
    LocalProcess self = writer.spawn();
    unique.here().register("hello", self, "world");
    assertThat(unique.read().keys(self.pid())).containsExactly("hello");
    assertThat(unique.here().unregisterMatch("hello", self, "foo"::equals)).isZero();
    assertThat(unique.read().keys(self.pid())).containsExactly("hello");
    assertThat(unique.here().unregisterMatch("hello", self, "world"::equals)).isEqualTo(1);
    assertThat(unique.read().keys(self.pid())).isEmpty();

    Pair<String> duplicate = strings("DuplicateUnregisterMatchTest", Keys.DUPLICATE);
    duplicate.here().register("hello", self, "world_a");
    duplicate.here().register("hello", self, "world_b");
    duplicate.here().register("hello", self, "world_c");
    assertThat(duplicate.read().keys(self.pid())).containsExactly("hello", "hello", "hello");
    assertThat(duplicate.here().unregisterMatch("hello", self, "world_a"::equals)).isEqualTo(1);
    assertThat(duplicate.read().keys(self.pid())).containsExactly("hello", "hello");
    assertThat(duplicate.read().lookup("hello")).extracting(RegistryEntry::value).containsExactly("world_b", "world_c");
  }

  @Test
  void updateValue() {
    Pair<Integer> r = registry("UpdateTest", Keys.UNIQUE, INTEGERS);
    LocalProcess self = writer.spawn();
    r.here().register("hello", self, 1);
    assertThat(r.read().lookup("hello")).extracting(RegistryEntry::value).containsExactly(1);
    Optional<ValueUpdate<Integer>> update = r.here().updateValue("hello", self, v -> v + 1);
    assertThat(update).hasValueSatisfying(u -> {
      assertThat(u.newValue()).isEqualTo(2);
      assertThat(u.oldValue()).isEqualTo(1);
    });
    assertThat(r.read().lookup("hello")).extracting(RegistryEntry::value).containsExactly(2);
    // :error when the process holds no such key; a raise for a duplicate registry
    assertThat(r.here().updateValue("missing", self, v -> v + 1)).isEmpty();
    assertThat(r.here().updateValue("hello", writer.spawn(), v -> v + 1)).isEmpty();
    Pair<Integer> duplicate = registry("UpdateDuplicateTest", Keys.DUPLICATE, INTEGERS);
    assertThatThrownBy(() -> duplicate.here().updateValue("hello", self, v -> v)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void values() {
    Pair<String> unique = strings("UniqueValuesTest", Keys.UNIQUE);
    LocalProcess self = writer.spawn();
    assertThat(unique.read().values("hello", self.pid())).isEmpty();
    unique.here().register("hello", self, "world");
    assertThat(unique.read().values("hello", self.pid())).containsExactly("world");
    LocalProcess task = reader.spawn(); // Task.async: another process
    assertThat(unique.read().values("hello", task.pid())).isEmpty();

    Pair<String> duplicate = strings("DuplicateValuesTest", Keys.DUPLICATE);
    assertThat(duplicate.read().values("hello", self.pid())).isEmpty();
    duplicate.here().register("hello", self, "world");
    assertThat(duplicate.read().values("hello", self.pid())).containsExactly("world");
    duplicate.here().register("hello", self, "another");
    assertThat(duplicate.read().values("hello", self.pid())).containsExactlyInAnyOrder("another", "world");
  }

  /** Integers as decimal UTF-8: another codec of the application's own. */
  static final ValueCodec<Integer> INTEGERS = new ValueCodec<>() {
    @Override
    public byte[] encode(Integer value) {
      return value.toString().getBytes(UTF_8);
    }

    @Override
    public Integer decode(byte[] bytes) {
      return Integer.valueOf(new String(bytes, UTF_8));
    }
  };

  static <V> List<V> values(List<RegistryEntry<V>> entries) {
    return entries.stream().map(RegistryEntry::value).toList();
  }
}
