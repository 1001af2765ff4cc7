package io.roster.bench;

import io.roster.Pid;
import io.roster.core.RegistryCore;
import io.roster.mirror.Mirror;
import io.roster.proto.Command;
import io.roster.proto.KeyMode;
import io.roster.schema.Commands;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One more name for a process that already holds {@code held} names: a register and an unregister
 * decided by the core and applied to the mirror, the cost each peer (and each client node's mirror)
 * pays per write of such a process (a registry allows 10,000 per process by default). Flat in {@code held}
 * means no copy of the process's holdings.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
public class HoldingsBenchmark {
  @Param({"1", "1000", "9000"})
  int held;

  RegistryCore core;
  Mirror mirror;
  Command[] registers;
  Command[] unregisters;
  int i;
  long index;

  @Setup(Level.Trial)
  public void setUp() {
    core = new RegistryCore();
    mirror = new Mirror();
    States.apply(core, mirror, Commands.openSession("n1", 1), ++index);
    States.apply(core, mirror, Commands.createRegistry(States.REGISTRY, KeyMode.UNIQUE), ++index);
    Pid pid = Pid.of("n1", 1, 1);
    for (int k = 0; k < held; k++) {
      States.apply(core, mirror, Commands.register(States.REGISTRY, "held-" + k, new byte[8], pid), ++index);
    }
    registers = new Command[1024];
    unregisters = new Command[1024];
    for (int k = 0; k < registers.length; k++) {
      registers[k] = Commands.register(States.REGISTRY, States.key(k), new byte[8], pid);
      unregisters[k] = Commands.unregister(States.REGISTRY, States.key(k), pid);
    }
  }

  /** A register and an unregister of one more name (two commands per operation). */
  @Benchmark
  public int registerUnregister() {
    int k = i;
    i = (k + 1) & (registers.length - 1);
    RegistryCore.Outcome a = core.apply(mirror, registers[k], ++index, 0);
    a.changes().forEach(mirror::apply);
    RegistryCore.Outcome b = core.apply(mirror, unregisters[k], ++index, 0);
    b.changes().forEach(mirror::apply);
    return a.changes().size() + b.changes().size();
  }
}
