package io.roster.store;

import static io.roster.schema.Commands.createRegistry;
import static io.roster.schema.Commands.openSession;
import static io.roster.schema.Commands.register;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.roster.Pid;
import io.roster.apply.Replica;
import io.roster.proto.Command;
import io.roster.proto.KeyMode;
import io.roster.schema.Codec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real RocksDB files with flipped bytes: a damaged store or checkpoint is refused with the damaged
 * file named, never loaded in part.
 */
class StoreCorruptionTest {
  static final Pid A = Pid.of("n1", 1, 1);

  @TempDir Path dir;

  /** A store of 3,000 registries with a name each, flushed to one SST file, closed. */
  private Path fullStore() throws IOException {
    Path db = dir.resolve("db");
    try (Replica replica = Replica.open(db)) {
      long index = 0;
      replica.applyEntry(ByteString.copyFrom(Codec.encode(openSession("n1", 1))), 1, ++index);
      for (int batch = 0; batch < 30; batch++) {
        List<Command> commands = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
          String registry = "registry-" + (batch * 100 + i);
          commands.add(createRegistry(registry, KeyMode.UNIQUE));
          commands.add(register(registry, "name", ("value of " + registry).getBytes(UTF_8), A));
        }
        replica.applyEntry(ByteString.copyFrom(Codec.encode(commands.toArray(new Command[0]))), 1, ++index);
      }
      replica.store().flush();
    }
    return db;
  }

  private static Path onlySst(Path db) throws IOException {
    try (Stream<Path> s = Files.list(db)) {
      List<Path> ssts = s.filter(p -> p.toString().endsWith(".sst")).toList();
      assertThat(ssts).hasSize(1);
      return ssts.get(0);
    }
  }


  @Test
  void aStoreWithFlippedBytesIsRefusedNamingTheFile() throws Exception {
    Path db = fullStore();
    try (Replica intact = Replica.open(db)) {
      assertThat(intact.mirror().registryCount()).isEqualTo(3_000);
    }
    Path sst = onlySst(db);
    Damage.flip(sst);
    assertThatThrownBy(() -> Replica.open(db)).isInstanceOf(CorruptStoreException.class)
        .hasMessageContaining(db.toString()).hasMessageContaining(sst.getFileName().toString())
        .hasMessageContaining("Replacing a voter");
  }

  @Test
  void aCheckpointCarriesTheDigestOfItsStateAndADamagedOneIsRefused() throws Exception {
    Path db = fullStore();
    Path checkpoint = dir.resolve("checkpoint");
    String live;
    try (Replica replica = Replica.open(db)) {
      live = replica.store().digest();
      replica.store().checkpoint(checkpoint);
    }
    RocksStore.Verified verified = RocksStore.verify(checkpoint);
    assertThat(verified.digest()).isEqualTo(live).hasSize(64);
    assertThat(verified.appliedIndex()).isEqualTo(31);

    // a copy, not the hard link the checkpoint shares with the live store
    Path sst = onlySst(checkpoint);
    Path copy = sst.resolveSibling("copy");
    Files.copy(sst, copy);
    Files.delete(sst);
    Files.move(copy, sst);
    Damage.flip(sst);
    assertThatThrownBy(() -> RocksStore.verify(checkpoint)).isInstanceOf(CorruptStoreException.class)
        .hasMessageContaining(sst.getFileName().toString());
  }

  @Test
  void replicasThatAppliedTheSameEntriesHaveTheSameDigest() throws Exception {
    List<byte[]> entries = List.of(Codec.encode(openSession("n1", 1), createRegistry("u", KeyMode.UNIQUE)),
        Codec.encode(register("u", "a", "1".getBytes(UTF_8), A)), Codec.encode(register("u", "b", "2".getBytes(UTF_8), A)));
    List<String> digests = new ArrayList<>();
    for (String name : List.of("r1", "r2")) {
      try (Replica r = Replica.open(dir.resolve(name))) {
        long index = 0;
        for (byte[] e : entries) {
          r.applyEntry(ByteString.copyFrom(e), 1, ++index);
        }
        if (name.equals("r2")) {
          r.markApplied(2, 7); // a configuration entry: the applied index is not state
        }
        digests.add(r.store().digest());
      }
    }
    assertThat(digests.get(0)).isEqualTo(digests.get(1));
    try (Replica r = Replica.open(dir.resolve("r1"))) {
      r.applyEntry(ByteString.copyFrom(Codec.encode(register("u", "c", "3".getBytes(UTF_8), A))), 1, 4);
      assertThat(r.store().digest()).isNotEqualTo(digests.get(0));
    }
  }
}
