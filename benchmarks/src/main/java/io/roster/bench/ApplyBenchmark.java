package io.roster.bench;

import com.google.protobuf.ByteString;
import io.roster.Pid;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import io.roster.mirror.ChangeHistory;
import io.roster.mirror.Mirror;
import io.roster.core.RegistryCore;
import io.roster.apply.Replica;
import io.roster.proto.Command;
import io.roster.proto.KeyMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Apply throughput: the pure core deciding registrations and a register/unregister pair per
 * operation (state stays bounded), and a store applying whole Raft entries of {@code batch}
 * registrations (RocksDB on disk, WAL off, one WriteBatch per entry), with and without a change
 * history recording what each entry changed.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ApplyBenchmark {
  static final int KEYS = 100_000;

  @Param({"100"})
  int batch;

  RegistryCore core;
  Mirror mirror;
  Command[] registers;
  Command[] unregisters;
  int i;
  long index;

  Path dir;
  Replica replica;
  /** A replica whose applied entries are also recorded for change streams, as on every voter. */
  Replica recorded;
  ChangeHistory history;
  List<ByteString> entries;
  int entry;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    core = new RegistryCore();
    mirror = new Mirror();
    States.apply(core, mirror, Commands.openSession("n1", 1), ++index);
    States.apply(core, mirror, Commands.createRegistry(States.REGISTRY, KeyMode.UNIQUE), ++index);
    registers = new Command[KEYS];
    unregisters = new Command[KEYS];
    for (int k = 0; k < KEYS; k++) {
      Pid pid = Pid.of("n1", 1, k + 1);
      registers[k] = Commands.register(States.REGISTRY, States.key(k), new byte[8], pid);
      unregisters[k] = Commands.unregister(States.REGISTRY, States.key(k), pid);
    }
    dir = Files.createTempDirectory("roster-bench-store-");
    replica = Replica.open(dir.resolve("db"));
    replica.applyEntry(ByteString.copyFrom(Codec.encode(Commands.openSession("n1", 1),
        Commands.createRegistry(States.REGISTRY, KeyMode.UNIQUE))), 1, 1);
    history = new ChangeHistory(ChangeHistory.ENTRIES_MAX, ChangeHistory.BYTES_MAX, Runnable::run);
    recorded = Replica.open(dir.resolve("recorded"), history::applied);
    recorded.applyEntry(ByteString.copyFrom(Codec.encode(Commands.openSession("n1", 1),
        Commands.createRegistry(States.REGISTRY, KeyMode.UNIQUE))), 1, 1);
    entries = new ArrayList<>();
    for (int e = 0; e < KEYS / batch; e++) { // register then unregister the same keys: state stays bounded
      List<Command> reg = new ArrayList<>();
      List<Command> unreg = new ArrayList<>();
      for (int k = e * batch; k < (e + 1) * batch; k++) {
        reg.add(registers[k]);
        unreg.add(unregisters[k]);
      }
      entries.add(ByteString.copyFrom(Codec.encode(Codec.batchOf(reg))));
      entries.add(ByteString.copyFrom(Codec.encode(Codec.batchOf(unreg))));
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    replica.close();
    recorded.close();
    io.roster.testkit.LocalCluster.deleteTree(dir);
  }

  /** One registration decided and applied, then removed (two commands per operation). */
  @Benchmark
  public int coreRegisterUnregister() {
    int k = i;
    i = k + 1 == KEYS ? 0 : k + 1;
    RegistryCore.Outcome a = core.apply(mirror, registers[k], ++index, 0);
    a.changes().forEach(mirror::apply);
    RegistryCore.Outcome b = core.apply(mirror, unregisters[k], ++index, 0);
    b.changes().forEach(mirror::apply);
    return a.changes().size() + b.changes().size();
  }

  /** Registrations per second through the store: entries of {@code batch} commands, decoded and written. */
  @Benchmark
  @OperationsPerInvocation(100)
  public int storeApplyEntry() {
    int e = entry;
    entry = e + 1 == entries.size() ? 0 : e + 1;
    return replica.applyEntry(entries.get(e), 1, ++index + 1).getResultsCount();
  }

  /**
   * {@link #storeApplyEntry} on a replica that also records each entry's changes in a change
   * history with no reader, as a voter that serves no change stream does.
   */
  @Benchmark
  @OperationsPerInvocation(100)
  public int storeApplyEntryRecorded() {
    int e = entry;
    entry = e + 1 == entries.size() ? 0 : e + 1;
    return recorded.applyEntry(entries.get(e), 1, ++index + 1).getResultsCount();
  }
}
