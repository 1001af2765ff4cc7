package io.roster.it;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.simpleNameStartingWith;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.type;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.Location;
import io.roster.Pid;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The never-rules of the architecture, checked on the compiled main classes of every module: the
 * core knows no Ratis, RocksDB, clock or thread; reads never touch the store; the store and the
 * apply path know no Ratis; each layer of the state machine uses only the layers below it; the
 * library does not depend on its CLI; the state machine knows no client API.
 *
 * <p>The layers, bottom up: {@code io.roster.schema} (with the generated {@code io.roster.proto}),
 * {@code io.roster.core}, {@code io.roster.mirror} (module registry-core, whose only dependency is
 * protobuf); {@code io.roster.store}, {@code io.roster.backup} (the backup file, which the client's
 * admin tools use to save and restore), {@code io.roster.apply}, {@code io.roster.ratis} (module
 * registry-statemachine); then the client library ({@code io.roster}, {@code io.roster.internal}),
 * the testkit ({@code io.roster.testkit}: in-JVM clusters and a CA) and the CLI ({@code io.roster.server}).
 */
class ArchitectureTest {
  static final String[] CORE = {"io.roster.schema..", "io.roster.core.."};
  static final String[] STATE_MACHINE = {"io.roster.schema..", "io.roster.core..", "io.roster.mirror..",
      "io.roster.store..", "io.roster.backup..", "io.roster.apply..", "io.roster.ratis..", "io.roster.proto.."};

  static JavaClasses classes;

  @BeforeAll
  static void load() {
    classes = new ClassFileImporter().withImportOption(ArchitectureTest::mainClass).importPackages("io.roster");
  }

  /** Main classes only: not test classes, nor the test jars of other modules. */
  static boolean mainClass(Location location) {
    return !location.contains("/test-classes/") && !location.contains("-tests.jar");
  }

  @Test
  void theCoreKnowsNoRatisRocksDbClockOrThread() {
    noClasses().that().resideInAnyPackage(CORE)
        .should().dependOnClassesThat(resideInAPackage("org.apache.ratis..").or(resideInAPackage("org.rocksdb.."))
            .or(resideInAPackage("java.util.concurrent..")).or(resideInAPackage("java.time..")))
        .orShould().callMethod(System.class, "nanoTime").orShould().callMethod(System.class, "currentTimeMillis")
        .orShould().dependOnClassesThat(type(Thread.class))
        .because("every peer must decide alike: the core is a function of a command and a state view")
        .check(classes);
  }

  @Test
  void readsNeverTouchTheStore() {
    noClasses().that().resideInAnyPackage("io.roster.mirror..", "io.roster.internal..", "io.roster")
        .should().dependOnClassesThat(resideInAPackage("org.rocksdb..").or(resideInAPackage("io.roster.store..")))
        .because("reads are answered from the mirror in memory; the store is written by the apply thread only")
        .check(classes);
  }

  @Test
  void theStoreAndTheApplyPathKnowNoRatis() {
    noClasses().that().resideInAnyPackage("io.roster.schema..", "io.roster.core..", "io.roster.mirror..",
            "io.roster.store..", "io.roster.backup..", "io.roster.apply..")
        .should().dependOnClassesThat(resideInAPackage("org.apache.ratis.."))
        .because("Ratis is reached through its adapter (io.roster.ratis) only")
        .check(classes);
  }

  @Test
  void eachLayerUsesOnlyTheLayersBelowIt() {
    layer(CORE, "io.roster.mirror..", "io.roster.store..", "io.roster.backup..", "io.roster.apply..",
        "io.roster.ratis..");
    layer(new String[] {"io.roster.mirror.."}, "io.roster.store..", "io.roster.backup..", "io.roster.apply..",
        "io.roster.ratis..");
    layer(new String[] {"io.roster.store.."}, "io.roster.backup..", "io.roster.apply..", "io.roster.ratis..");
    layer(new String[] {"io.roster.backup.."}, "io.roster.apply..", "io.roster.ratis..");
    layer(new String[] {"io.roster.apply.."}, "io.roster.ratis..");
  }

  /**
   * The client's parts: the shared settings and helpers ({@code io.roster.internal}), then transport
   * (TLS, the gate, Ratis wiring and clients), the write path, the read path (barriers, mirrors,
   * overlay, watches), sessions, messaging and processes, admin tools; the node ({@code node}: life
   * cycle, groups, the registry face) wires them and is the only part that knows the others.
   */
  @Test
  void theClientsPartsUseOnlyWhatIsBelowThem() {
    String node = "io.roster.internal.node..";
    String[] all = {"io.roster.internal.transport..", "io.roster.internal.write..", "io.roster.internal.read..",
        "io.roster.internal.session..", "io.roster.internal.messaging..", "io.roster.internal.admin..", node};
    noClasses().that().resideInAPackage("io.roster.internal").should().dependOnClassesThat().resideInAnyPackage(all)
        .check(classes);
    layer(new String[] {"io.roster.internal.transport.."}, without(all, "io.roster.internal.transport.."));
    layer(new String[] {"io.roster.internal.write.."}, without(all, "io.roster.internal.transport..",
        "io.roster.internal.write.."));
    layer(new String[] {"io.roster.internal.read.."}, without(all, "io.roster.internal.transport..",
        "io.roster.internal.read.."));
    layer(new String[] {"io.roster.internal.session.."}, without(all, "io.roster.internal.transport..",
        "io.roster.internal.write..", "io.roster.internal.session.."));
    layer(new String[] {"io.roster.internal.messaging.."}, without(all, "io.roster.internal.transport..",
        "io.roster.internal.messaging.."));
    layer(new String[] {"io.roster.internal.admin.."}, without(all, "io.roster.internal.transport..",
        "io.roster.internal.admin.."));
  }

  private static String[] without(String[] all, String... allowed) {
    return java.util.Arrays.stream(all).filter(p -> !java.util.List.of(allowed).contains(p)).toArray(String[]::new);
  }

  private static void layer(String[] packages, String... above) {
    noClasses().that().resideInAnyPackage(packages).should().dependOnClassesThat().resideInAnyPackage(above)
        .check(classes);
  }

  @Test
  void theLibraryDoesNotDependOnItsCliOrTestkit() {
    noClasses().that().resideInAnyPackage(STATE_MACHINE).or().resideInAnyPackage("io.roster", "io.roster.internal..")
        .should().dependOnClassesThat(resideInAPackage("io.roster.server..").or(resideInAPackage("io.roster.testkit..")))
        .check(classes);
    noClasses().that().resideInAPackage("io.roster.testkit..")
        .should().dependOnClassesThat(resideInAPackage("io.roster.server.."))
        .because("tests and benchmarks use the testkit without the CLI")
        .check(classes);
  }

  @Test
  void theStateMachineKnowsNoClientApi() {
    noClasses().that().resideInAnyPackage(STATE_MACHINE)
        .should().dependOnClassesThat(resideInAPackage("io.roster.internal..")
            .or(resideInAPackage("io.roster").and(not(type(Pid.class))).and(not(simpleNameStartingWith("Pid$")))))
        .check(classes);
  }
}
