package io.roster.apply;

import com.google.protobuf.ByteString;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Child process of {@link StoreCrashTest}: applies the deterministic entries 1..stopAt of a seed
 * to a store, flushing every {@code flushEvery} entries, prints "at N", then blocks on stdin until
 * the parent kills it with SIGKILL.
 */
public final class CrashingApplier {
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    long seed = Long.parseLong(args[1]);
    int stopAt = Integer.parseInt(args[2]);
    int flushEvery = Integer.parseInt(args[3]);
    List<byte[]> entries = StoreCrashTest.entries(seed, stopAt);
    Replica replica = Replica.open(dir);
    for (int i = 1; i <= stopAt; i++) {
      replica.applyEntry(ByteString.copyFrom(entries.get(i - 1)), 1, i);
      if (i % flushEvery == 0) {
        replica.store().flush();
      }
    }
    System.out.println("at " + stopAt);
    System.out.flush();
    new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine(); // wait to be killed
    System.exit(3); // never reached when the parent kills
  }
}
