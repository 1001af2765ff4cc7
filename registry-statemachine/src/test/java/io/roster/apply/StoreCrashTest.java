package io.roster.apply;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.roster.core.RandomCommands;
import io.roster.schema.Codec;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real process applies entries to a store (WAL off) and is killed with SIGKILL: the reopened
 * store holds a prefix of the entries, at least up to the last flush, with its applied index.
 * Replaying the whole "log" over it, as Ratis does after a restart, gives exactly the state of
 * applying every entry once: nothing lost, nothing applied twice (duplicate-key registrations
 * would be doubled by a second application).
 */
class StoreCrashTest {
  static final long SEED = 77;
  static final int ENTRIES = 300;
  static final int KILLED_AT = 170;
  static final int FLUSH_EVERY = 50;

  @TempDir Path dir;

  static List<byte[]> entries(long seed, int count) {
    RandomCommands gen = new RandomCommands(seed);
    List<byte[]> entries = new ArrayList<>();
    entries.add(Codec.encode(Codec.batchOf(gen.setup())));
    while (entries.size() < count) {
      entries.add(Codec.encode(Codec.batchOf(gen.batch(6))));
    }
    return entries;
  }

  @Test
  void aKilledProcessLosesNothingAndAppliesNothingTwice() throws Exception {
    Path live = dir.resolve("live");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        CrashingApplier.class.getName(), live.toString(), Long.toString(SEED), Integer.toString(KILLED_AT),
        Integer.toString(FLUSH_EVERY))
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), UTF_8))) {
      assertThat(out.readLine()).isEqualTo("at " + KILLED_AT);
      child.destroyForcibly(); // SIGKILL: no shutdown hook, no RocksDB close, no flush
      assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
    } finally {
      child.destroyForcibly();
    }
    assertThat(child.exitValue()).isEqualTo(137); // 128 + SIGKILL

    List<byte[]> entries = entries(SEED, ENTRIES);
    try (Replica recovered = Replica.open(live); Replica reference = Replica.open(dir.resolve("reference"))) {
      long survived = recovered.appliedIndex();
      assertThat(survived).as("flushed entries survive the kill").isBetween((long) (KILLED_AT / FLUSH_EVERY * FLUSH_EVERY),
          (long) KILLED_AT);
      for (int i = 1; i <= ENTRIES; i++) {
        ByteString entry = ByteString.copyFrom(entries.get(i - 1));
        recovered.applyEntry(entry, 1, i); // the replayed log: entries <= survived are skipped
        reference.applyEntry(entry, 1, i);
        if (i == survived) {
          assertThat(recovered.mirror().describe()).as("the recovered prefix").isEqualTo(reference.mirror().describe());
        }
      }
      assertThat(recovered.appliedIndex()).isEqualTo(ENTRIES);
      assertThat(recovered.mirror().describe()).isEqualTo(reference.mirror().describe());
      assertThat(recovered.store().load().describe()).isEqualTo(reference.mirror().describe());
    }
  }
}
