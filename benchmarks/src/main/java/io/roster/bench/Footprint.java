package io.roster.bench;

import com.google.protobuf.ByteString;
import io.roster.Pid;
import io.roster.testkit.LocalCluster;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import io.roster.mirror.Mirror;
import io.roster.apply.Replica;
import io.roster.proto.Command;
import io.roster.proto.KeyMode;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Memory and recovery figures at N registrations (default 1,000,000; one process per registration,
 * 16-byte values, keys like "service-123456"): heap bytes per registration of the mirror, and the
 * time to reopen a store of that size and rebuild its mirror (the part of a restart before the node
 * serves whereis). Run with a fixed heap, e.g. -Xms4g -Xmx4g.
 */
public final class Footprint {
  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    Path dir = Files.createTempDirectory("roster-footprint-");
    try {
      long before = usedHeapAfterGc();
      Mirror mirror;
      try (Replica replica = Replica.open(dir.resolve("db"))) {
        long index = 0;
        List<Command> setup = new ArrayList<>();
        for (int node = 0; node < 100; node++) {
          setup.add(Commands.openSession("node-" + node, 1));
        }
        setup.add(Commands.createRegistry(CreateRegistries.NAME, KeyMode.UNIQUE));
        replica.applyEntry(ByteString.copyFrom(Codec.encode(Codec.batchOf(setup))), 1, ++index);
        byte[] value = new byte[16];
        for (int start = 0; start < n; start += 1000) {
          List<Command> batch = new ArrayList<>(1000);
          for (int i = start; i < Math.min(n, start + 1000); i++) {
            batch.add(Commands.register(CreateRegistries.NAME, "service-" + i, value, Pid.of("node-" + (i % 100), 1, i + 1)));
          }
          replica.applyEntry(ByteString.copyFrom(Codec.encode(Codec.batchOf(batch))), 1, ++index);
        }
        replica.store().flush();
        mirror = replica.mirror();
        long after = usedHeapAfterGc();
        System.out.printf("registrations: %d (mirror holds %d)%n", n, mirror.registrationCount());
        System.out.printf("heap per registration: %.0f bytes (mirror of %d registrations: %.1f MiB)%n",
            (double) (after - before) / n, n, (after - before) / 1048576.0);
      }
      mirror = null;
      long start = System.nanoTime();
      try (Replica reopened = Replica.open(dir.resolve("db"))) {
        long took = (System.nanoTime() - start) / 1_000_000;
        if (reopened.mirror().whereis(CreateRegistries.NAME, "service-" + (n - 1)) == null) {
          throw new IllegalStateException("the reopened store lost a registration");
        }
        System.out.printf("reopen store + rebuild mirror of %d registrations: %d ms%n", n, took);
      }
    } finally {
      LocalCluster.deleteTree(dir);
    }
  }

  private static long usedHeapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  private static final class CreateRegistries {
    static final String NAME = "services";
  }
}
