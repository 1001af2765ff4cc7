package io.roster.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.roster.ConsistencyReport;
import io.roster.Backup;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.RosterException;
import io.roster.Tls;
import io.roster.ValueCodec;
import io.roster.internal.node.Node;
import io.roster.testkit.LocalCluster;
import io.roster.mirror.Mirror;
import io.roster.store.RocksStore;
import io.roster.backup.SnapshotArchive;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backup and restore over real gRPC with TLS and RocksDB: a save taken while writes go on holds
 * every write acknowledged before it began; a save of a quiet cluster has the digests the voters
 * agree on; a fresh 3-voter cluster restored from it starts with exactly that state (each voter
 * verifies it) and works on; damaged files are refused whole and change nothing.
 */
class BackupTest {
  static final Duration WAIT = Duration.ofSeconds(60);
  static final Duration SESSION = Duration.ofSeconds(30);

  @TempDir Path dir;
  LocalCluster old;
  LocalCluster restored;

  @AfterEach
  void stop() {
    if (restored != null) {
      restored.close();
    }
    if (old != null) {
      old.close();
    }
  }

  @Test
  void aSaveFromALoadedClusterRestoresIntoAFreshClusterWithTheSameStateAndDigests() throws Exception {
    old = LocalCluster.start(dir.resolve("old"), 3, SESSION, Duration.ofSeconds(10));
    old.awaitReady(WAIT);
    // the names belong to a client node: the restored cluster's voters n1..n3 open sessions of
    // their own, which supersede the saved sessions of n1..n3 (and so remove their names)
    Node app = old.startClient("app");
    app.ready().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    old.node("n1").registry("spread", Keys.UNIQUE, 4, ValueCodec.utf8()); // partitioned: a voter creates it
    Registry<String> plain = app.registry("plain", Keys.UNIQUE, ValueCodec.utf8());
    Registry<String> spread = app.registry("spread", Keys.UNIQUE, 4, ValueCodec.utf8());
    LocalProcess owner = app.spawn();
    plain.putMeta("owner", "ops");

    WriteLoad load = new WriteLoad("backup-load", plain, spread, owner);
    Map<String, Boolean> acknowledged = load.acknowledged(); // key -> in plain
    Backup.Summary during;
    Map<String, Boolean> beforeSave;
    Tls admin = old.tls("ops", Tls.CertRole.ADMIN);
    try {
      Awaitility.await().atMost(WAIT).until(() -> acknowledged.size() >= 1000);
      beforeSave = Map.copyOf(acknowledged);
      during = Backup.save("roster", Map.of("n2", old.voters().get("n2")), admin, dir.resolve("during.snap"), null);
    } finally {
      load.close();
    }
    assertThat(during.groups()).extracting(Backup.Group::name)
        .containsExactly("cluster", "spread#0", "spread#1", "spread#2", "spread#3");
    // every write acknowledged before the save began is in the file
    Map<String, Mirror> saved = seededState(dir.resolve("during.snap"), dir.resolve("check"));
    for (Map.Entry<String, Boolean> e : beforeSave.entrySet()) {
      String registry = e.getValue() ? "plain" : "spread";
      boolean found = saved.values().stream().anyMatch(m -> owner.pid().equals(m.whereis(registry, e.getKey())));
      assertThat(found).as("%s in %s, acknowledged before the save", e.getKey(), registry).isTrue();
    }

    // a save of the quiet cluster holds the state its voters agree on, group by group
    List<ConsistencyReport> reports = old.node("n1").checkConsistency().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    Map<String, String> agreed = new HashMap<>();
    reports.forEach(r -> agreed.put(r.group(), r.majority()));
    Path file = dir.resolve("roster.snap");
    IntegrityTest.Run save = saveWithCli(file);
    assertThat(save.exit()).as(save.output()).isZero();
    Backup.Summary quiet = Backup.inspect(file, null);
    assertThat(quiet.groups()).hasSize(5);
    for (Backup.Group g : quiet.groups()) {
      assertThat(g.digest()).as(g.name()).isEqualTo(agreed.get(g.name()));
      assertThat(save.output()).contains(g.name(), g.digest());
    }
    Map<String, Pid> expected = new HashMap<>();
    acknowledged.keySet().forEach(k -> expected.put(k, owner.pid()));
    old.close();
    old = null;

    // a fresh cluster, seeded from the file: one voter by the CLI, two by the API
    Path fresh = dir.resolve("new");
    IntegrityTest.Run restore = IntegrityTest.roster("snapshot", "restore", file.toString(), "--data-dir",
        fresh.resolve("n1").toString(), "--id", "n1");
    assertThat(restore.exit()).as(restore.output()).isZero();
    Backup.restore(file, fresh.resolve("n2"), "roster", "n2", null);
    Backup.restore(file, fresh.resolve("n3"), "roster", "n3", null);
    restored = LocalCluster.start(fresh, 3, SESSION, Duration.ofSeconds(10));
    restored.awaitReady(WAIT);

    // each voter adopted, and verified at its start, a snapshot with the saved digest of each group
    Set<String> savedDigests = new TreeSet<>();
    quiet.groups().forEach(g -> savedDigests.add(g.digest()));
    for (String id : List.of("n1", "n2", "n3")) {
      Awaitility.await().atMost(WAIT).until(() -> adoptedDigests(fresh.resolve(id)).size() == 5);
      assertThat(adoptedDigests(fresh.resolve(id))).as(id).isEqualTo(savedDigests);
    }

    // the restored names are there (until the saved session of "app", which no longer runs, expires)
    Node n2 = restored.node("n2");
    Registry<String> plainThere = n2.registry("plain", Keys.UNIQUE, ValueCodec.utf8());
    Registry<String> spreadThere = n2.registry("spread", Keys.UNIQUE, 4, ValueCodec.utf8());
    assertThat(plainThere.meta("owner")).contains("ops");
    List<String> missing = new ArrayList<>();
    for (Map.Entry<String, Pid> e : expected.entrySet()) {
      Registry<String> r = acknowledged.get(e.getKey()) ? plainThere : spreadThere;
      if (!e.getValue().equals(r.whereisConsistent(e.getKey()))) {
        missing.add(e.getKey());
      }
    }
    assertThat(missing).as("acknowledged registrations missing after the restore").isEmpty();

    // the restored cluster works on, its revisions after the saved ones by the gap
    long savedIndex = quiet.groups().get(0).index();
    LocalProcess p = n2.spawn();
    long revision = plainThere.register("after-restore", p, "x");
    assertThat(revision).isGreaterThan((savedIndex + SnapshotArchive.INDEX_GAP) * 4096);
    assertThat(restored.node("n3").registry("plain", Keys.UNIQUE, ValueCodec.utf8()).whereisConsistent("after-restore"))
        .isEqualTo(p.pid());
    // and the names of the saved node that does not come back go with its session
    Awaitility.await().atMost(WAIT).until(() -> plainThere.whereisConsistent(firstKey(expected, acknowledged)) == null);
  }

  @Test
  void damagedOrTruncatedFilesAndNonAdminCertificatesAreRefusedAndChangeNothing() throws Exception {
    old = LocalCluster.start(dir.resolve("old"), 3, SESSION, Duration.ofSeconds(10));
    old.awaitReady(WAIT);
    Node n1 = old.node("n1");
    Registry<String> plain = n1.registry("plain", Keys.UNIQUE, ValueCodec.utf8());
    LocalProcess owner = n1.spawn();
    for (int i = 0; i < 200; i++) {
      plain.register("key-" + i, owner, "v" + i);
    }
    Map<String, String> voters = Map.of("n1", old.voters().get("n1"));

    // only an admin certificate copies a store
    Path refusedFile = dir.resolve("refused.snap");
    assertThatThrownBy(() -> Backup.save("roster", voters, old.tls("c9", Tls.CertRole.CLIENT), refusedFile, null))
        .isInstanceOf(RosterException.class).hasMessageContaining("admin certificate");
    assertThat(refusedFile).doesNotExist();
    assertThat(refusedFile.resolveSibling("refused.snap.part")).doesNotExist();

    Path file = dir.resolve("roster.snap");
    Backup.save("roster", voters, old.tls("ops", Tls.CertRole.ADMIN), file, null);
    byte[] whole = Files.readAllBytes(file);

    // one flipped byte in the middle of the records
    byte[] flipped = whole.clone();
    flipped[whole.length / 2] ^= 0x40;
    Path damaged = dir.resolve("damaged.snap");
    Files.write(damaged, flipped);
    assertRefused(damaged, "is refused");

    // cut short
    Path truncated = dir.resolve("truncated.snap");
    Files.write(truncated, java.util.Arrays.copyOf(whole, whole.length - 40));
    assertRefused(truncated, "truncated");

    // not a snapshot at all
    Path other = dir.resolve("other.snap");
    Files.writeString(other, "hello, world\n", StandardCharsets.UTF_8);
    assertRefused(other, "not a Roster snapshot file");

    // a data directory with Raft state of its own is not restored into
    IntegrityTest.Run used = IntegrityTest.roster("snapshot", "restore", file.toString(), "--data-dir",
        dir.resolve("old").resolve("n2").toString(), "--id", "n2");
    assertThat(used.exit()).as(used.output()).isEqualTo(2);
    assertThat(used.output()).contains("holds Raft state already");
    assertThat(dir.resolve("old").resolve("n2").resolve("restore")).doesNotExist();

    // a client certificate through the CLI: a clear refusal, exit 1
    Path client = dir.resolve("client");
    io.roster.testkit.CertificateAuthority.Issued c9 = old.ca().issue("c9", Tls.CertRole.CLIENT, List.of("127.0.0.1"),
        Duration.ofDays(1));
    c9.save(client);
    IntegrityTest.Run cli = IntegrityTest.roster("snapshot", "save", dir.resolve("cli.snap").toString(), "--voters",
        "n1=" + old.voters().get("n1"), "--tls-cert", c9.certFile(client).toString(), "--tls-key",
        c9.keyFile(client).toString(), "--tls-ca", old.tlsDir().resolve(io.roster.testkit.CertificateAuthority.CA_FILE)
            .toString());
    assertThat(cli.exit()).as(cli.output()).isEqualTo(1);
    assertThat(cli.output()).contains("admin certificate");
  }

  private void assertRefused(Path file, String why) throws Exception {
    Path data = dir.resolve("restore-" + file.getFileName());
    IntegrityTest.Run run = IntegrityTest.roster("snapshot", "restore", file.toString(), "--data-dir", data.toString(),
        "--id", "n1");
    assertThat(run.exit()).as(run.output()).isEqualTo(1);
    assertThat(run.output()).contains(why);
    assertThat(data.resolve("restore")).doesNotExist();
    assertThat(data.resolve("restore.tmp")).doesNotExist();
    assertThatThrownBy(() -> Backup.inspect(file, null)).isInstanceOf(UncheckedIOException.class)
        .hasMessageContaining(why);
  }

  private IntegrityTest.Run saveWithCli(Path file) throws Exception {
    Path admin = dir.resolve("admin");
    io.roster.testkit.CertificateAuthority.Issued ops = old.ca().issue("ops", Tls.CertRole.ADMIN, List.of("127.0.0.1"),
        Duration.ofDays(1));
    ops.save(admin);
    return IntegrityTest.roster("snapshot", "save", file.toString(), "--voters", "n3=" + old.voters().get("n3"),
        "--tls-cert", ops.certFile(admin).toString(), "--tls-key", ops.keyFile(admin).toString(), "--tls-ca",
        old.tlsDir().resolve(io.roster.testkit.CertificateAuthority.CA_FILE).toString());
  }

  private static String firstKey(Map<String, Pid> expected, Map<String, Boolean> inPlain) {
    return expected.keySet().stream().filter(inPlain::get).sorted().findFirst().orElseThrow();
  }

  /** The state each group of {@code file} seeds, by group directory, read from the seeds of a scratch data directory. */
  private static Map<String, Mirror> seededState(Path file, Path dataDir) throws Exception {
    Backup.restore(file, dataDir, "roster", "n1", null);
    Map<String, Mirror> out = new HashMap<>();
    try (Stream<Path> groups = Files.list(dataDir.resolve("restore"))) {
      for (Path g : groups.toList()) {
        Path snapshot;
        try (Stream<Path> s = Files.list(g)) {
          snapshot = s.filter(p -> p.getFileName().toString().startsWith("snapshot.")).findFirst().orElseThrow();
        }
        try (RocksStore store = RocksStore.open(snapshot)) {
          out.put(g.getFileName().toString(), store.load());
        }
      }
    }
    return out;
  }

  /** The digests named by the snapshots a voter adopted from its seeds: the first snapshot of each group. */
  private static Set<String> adoptedDigests(Path dataDir) throws Exception {
    Set<String> out = new TreeSet<>();
    try (Stream<Path> groups = Files.list(dataDir.resolve("raft"))) {
      for (Path g : groups.filter(Files::isDirectory).toList()) {
        Path sm = g.resolve("sm");
        if (!Files.isDirectory(sm)) {
          continue;
        }
        Path first;
        try (Stream<Path> s = Files.list(sm)) {
          first = s.filter(p -> p.getFileName().toString().startsWith("snapshot.1_"))
              .min(java.util.Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString().substring(11))))
              .orElse(null);
        }
        if (first == null || !Files.exists(first.resolve("roster-digest"))) {
          continue;
        }
        java.util.Properties props = new java.util.Properties();
        try (var r = Files.newBufferedReader(first.resolve("roster-digest"))) {
          props.load(r);
        }
        out.add(props.getProperty("sha256"));
      }
    }
    return out;
  }
}
