package io.roster.core;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.roster.Pid;
import io.roster.proto.Command;
import io.roster.proto.CreateRegistry;
import io.roster.proto.KeyMode;
import io.roster.schema.Commands;
import io.roster.schema.Limits;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A seeded generator of command sequences over small pools of registries, keys, nodes and pids, so
 * that commands collide: taken keys, stale incarnations, held locks, death of a pid with many keys.
 * About one command in twelve is invalid on purpose. The same seed gives the same sequence.
 */
public final class RandomCommands {
  private static final String[] REGISTRIES = {"u1", "u2", "d1", "d2", "missing"};
  private static final String[] NODES = {"n1", "n2", "n3"};

  private final Random random;
  private final long[] incarnation = {1, 1, 1};

  public RandomCommands(long seed) {
    this.random = new Random(seed);
  }

  /** Commands that set the scene: sessions for every node and the registries. */
  public List<Command> setup() {
    List<Command> setup = new ArrayList<>();
    for (String node : NODES) {
      setup.add(Commands.openSession(node, 1));
    }
    setup.add(Commands.createRegistry("u1", KeyMode.UNIQUE));
    setup.add(Commands.createRegistry("u2", KeyMode.UNIQUE));
    setup.add(Commands.createRegistry("d1", KeyMode.DUPLICATE));
    setup.add(Commands.createRegistry(CreateRegistry.newBuilder().setRegistry("d2").setMode(KeyMode.DUPLICATE)
        .setMaxRegistrationsPerPid(4).setMaxValueBytes(8).build()));
    return setup;
  }

  /** A batch of 1..maxSize commands, as one Raft entry would carry. */
  public List<Command> batch(int maxSize) {
    int n = 1 + random.nextInt(maxSize);
    List<Command> batch = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      batch.add(next());
    }
    return batch;
  }

  public Command next() {
    int dice = random.nextInt(100);
    if (dice < 35) {
      return Commands.register(registry(), key(), registrationValue(), pid());
    }
    if (dice < 50) {
      return Commands.unregister(registry(), key(), pid());
    }
    if (dice < 56) {
      return Commands.unregisterPid(pid());
    }
    if (dice < 66) {
      return Commands.updateValue(registry(), key(), registrationValue(), pid());
    }
    if (dice < 72) {
      return Commands.putMeta(registry(), key(), value());
    }
    if (dice < 75) {
      return Commands.deleteMeta(registry(), key());
    }
    if (dice < 81) {
      return Commands.acquireLock(registry(), "lock" + random.nextInt(3), pid());
    }
    if (dice < 87) {
      return Commands.releaseLock(registry(), "lock" + random.nextInt(3), pid());
    }
    if (dice < 91) {
      int node = random.nextInt(NODES.length);
      if (random.nextBoolean()) {
        incarnation[node]++; // a restart
      }
      return Commands.openSession(NODES[node], incarnation[node]);
    }
    if (dice < 94) {
      int node = random.nextInt(NODES.length);
      return Commands.expireSession(NODES[node], incarnation[node] - random.nextInt(2));
    }
    return invalid();
  }

  private Command invalid() {
    return switch (random.nextInt(4)) {
      case 0 -> Commands.register(registry(), "", value(), pid());
      case 1 -> Commands.register(registry(), "k".repeat(Limits.KEY_BYTES_DEFAULT + 1), value(), pid());
      case 2 -> Commands.createRegistry("u1", KeyMode.DUPLICATE);
      default -> Command.getDefaultInstance();
    };
  }

  private String registry() {
    return REGISTRIES[random.nextInt(random.nextInt(10) == 0 ? REGISTRIES.length : REGISTRIES.length - 1)];
  }

  private String key() {
    return "k" + random.nextInt(6);
  }

  /** A value, or sometimes none (null), which must stay distinct from an empty one. */
  private byte[] registrationValue() {
    int dice = random.nextInt(8);
    return dice == 0 ? null : dice == 1 ? new byte[0] : value();
  }

  private byte[] value() {
    return ("v" + random.nextInt(1000)).getBytes(UTF_8);
  }

  /** Mostly pids of the current incarnation, sometimes of the previous (stale) one. */
  private Pid pid() {
    int node = random.nextInt(NODES.length);
    long inc = random.nextInt(8) == 0 && incarnation[node] > 1 ? incarnation[node] - 1 : incarnation[node];
    return Pid.of(NODES[node], inc, 1 + random.nextInt(3));
  }
}
