package io.roster.bench;

import io.roster.Pid;
import io.roster.schema.Change;
import io.roster.schema.Commands;
import io.roster.mirror.Mirror;
import io.roster.core.RegistryCore;
import io.roster.proto.KeyMode;

/** Builds benchmark states through the real core, so they are what a cluster would hold. */
final class States {
  static final String REGISTRY = "bench";

  private States() {}

  /** A mirror with {@code entries} unique keys "key-0".."key-N", one process each, on 100 nodes. */
  static Mirror mirror(int entries) {
    RegistryCore core = new RegistryCore();
    Mirror mirror = new Mirror();
    long index = 0;
    for (int node = 0; node < 100; node++) {
      apply(core, mirror, Commands.openSession("node-" + node, 1), ++index);
    }
    apply(core, mirror, Commands.createRegistry(REGISTRY, KeyMode.UNIQUE), ++index);
    for (int i = 0; i < entries; i++) {
      Pid pid = Pid.of("node-" + (i % 100), 1, i + 1);
      apply(core, mirror, Commands.register(REGISTRY, key(i), new byte[0], pid), ++index);
    }
    return mirror;
  }

  static String key(int i) {
    return "key-" + i;
  }

  static void apply(RegistryCore core, Mirror mirror, io.roster.proto.Command c, long index) {
    RegistryCore.Outcome o = core.apply(mirror, c, index, 0);
    for (Change change : o.changes()) {
      mirror.apply(change);
    }
  }
}
