package io.roster.apply;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.roster.core.RandomCommands;
import io.roster.core.RegistryCore.Outcome;
import io.roster.core.RegistryCore;
import io.roster.mirror.Mirror;
import io.roster.proto.BatchResult;
import io.roster.proto.Command;
import io.roster.proto.Result;
import io.roster.schema.Codec;
import io.roster.store.Checkpoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Random command sequences give the same state in the pure core, the mirror, a fresh load from
 * RocksDB, a checkpoint restored into a new store, and the store reopened after a restart.
 */
class ReplicaPropertyTest {
  static final int ENTRIES = 250;

  @TempDir Path dir;

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
  void everyViewOfTheStateAgrees(long seed) throws Exception {
    RandomCommands gen = new RandomCommands(seed);
    RegistryCore core = new RegistryCore();
    Mirror model = new Mirror(); // the pure core's state, with no store behind it
    long index = 0;
    int snapshots = 0;
    long registrationsMax = 0;
    try (Replica replica = Replica.open(dir.resolve("live"))) {
      List<List<Command>> entries = new ArrayList<>();
      entries.add(gen.setup());
      for (int i = 0; i < ENTRIES; i++) {
        entries.add(gen.batch(8));
      }
      for (List<Command> entry : entries) {
        index += 1 + (seed % 3); // Raft indexes may skip (configuration entries)
        BatchResult got = replica.applyEntry(ByteString.copyFrom(Codec.encode(Codec.batchOf(entry))), 1, index);
        List<Result> expected = new ArrayList<>();
        for (int ordinal = 0; ordinal < entry.size(); ordinal++) {
          Outcome o = core.apply(model, entry.get(ordinal), index, ordinal);
          o.changes().forEach(model::apply);
          expected.add(o.result());
        }
        model.appliedIndex(index);
        String where = "seed " + seed + " entry " + index;
        assertThat(got.getResultsList()).as(where).isEqualTo(expected);
        TreeSet<String> state = replica.mirror().describe();
        registrationsMax = Math.max(registrationsMax, replica.mirror().registrationCount());
        assertThat(state).as(where).isEqualTo(model.describe());
        assertThat(replica.store().load().describe()).as("fresh load, " + where).isEqualTo(state);
        if (index % 97 == 0) {
          Path checkpoint = dir.resolve("snapshot-" + snapshots);
          Path restored = dir.resolve("restored-" + snapshots++);
          replica.store().checkpoint(checkpoint);
          Checkpoints.restore(checkpoint, restored);
          try (Replica copy = Replica.open(restored)) {
            assertThat(copy.mirror().describe()).as("snapshot, " + where).isEqualTo(state);
            assertThat(copy.appliedIndex()).isEqualTo(index);
          }
        }
      }
      assertThat(registrationsMax).as("the sequence builds up state").isGreaterThan(5);
      assertThat(snapshots).isPositive();
    }
    try (Replica reopened = Replica.open(dir.resolve("live"))) {
      assertThat(reopened.appliedIndex()).isEqualTo(index);
      assertThat(reopened.mirror().describe()).as("after restart").isEqualTo(model.describe());
    }
  }
}
