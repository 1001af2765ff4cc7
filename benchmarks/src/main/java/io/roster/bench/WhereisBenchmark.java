package io.roster.bench;

import io.roster.Pid;
import io.roster.mirror.Mirror;
import java.util.concurrent.ConcurrentHashMap;
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
 * {@code whereis} on the mirror, hit and miss, next to a bare {@code ConcurrentHashMap.get} of the
 * same keys in the same run. Keys are visited in a shuffled order (no cache-friendly stride).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
public class WhereisBenchmark {
  @Param({"10000", "1000000"})
  int entries;

  Mirror mirror;
  Mirror.RegistryState registry;
  ConcurrentHashMap<String, Pid> bare;
  String[] hits;
  String[] misses;
  int i;

  @Setup(Level.Trial)
  public void setUp() {
    mirror = States.mirror(entries);
    registry = mirror.registryState(States.REGISTRY); // what a Registry handle keeps
    bare = new ConcurrentHashMap<>();
    hits = new String[entries];
    misses = new String[entries];
    java.util.Random random = new java.util.Random(1);
    for (int k = 0; k < entries; k++) {
      hits[k] = States.key(k);
      misses[k] = "miss-" + k;
      // distinct but equal key instances, as the mirror holds (no identity shortcut in equals)
      bare.put(States.key(k), mirror.whereis(States.REGISTRY, hits[k]));
    }
    for (int k = entries - 1; k > 0; k--) { // shuffle, then warm the String hash caches
      int j = random.nextInt(k + 1);
      String t = hits[k];
      hits[k] = hits[j];
      hits[j] = t;
    }
    for (int k = 0; k < entries; k++) {
      hits[k].hashCode();
      misses[k].hashCode();
    }
  }

  private int next() {
    int k = i + 1;
    i = k == entries ? 0 : k;
    return i;
  }

  /** What {@code Registry.whereis} does: the handle has found its registry once. */
  @Benchmark
  public Pid whereisHit() {
    return registry.whereis(hits[next()]);
  }

  /** By registry name: one more map read. */
  @Benchmark
  public Pid whereisByNameHit() {
    return mirror.whereis(States.REGISTRY, hits[next()]);
  }

  @Benchmark
  public Pid chmGetHit() {
    return bare.get(hits[next()]);
  }

  @Benchmark
  public Pid whereisMiss() {
    return registry.whereis(misses[next()]);
  }

  @Benchmark
  public Pid chmGetMiss() {
    return bare.get(misses[next()]);
  }
}
