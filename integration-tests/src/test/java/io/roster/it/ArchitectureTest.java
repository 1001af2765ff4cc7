package io.roster.it;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.simpleNameStartingWith;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.type;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.Location;
import io.roster.Pid;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The never-rules of the architecture, checked on the compiled main classes of every module: the
 * core knows no Ratis, RocksDB, clock or thread; reads never touch the store; the store and the
 * apply path know no Ratis; the library does not depend on its CLI; the state machine knows no
 * client API.
 */
class ArchitectureTest {
  /** The core: the pure decisions, the state view they read, and the schema they decide on. */
  static final Set<String> CORE = Set.of("RegistryCore", "StateView", "Authorization", "Change", "Registration",
      "RegistryDescriptor", "Session", "LockHold", "Revisions", "Limits", "Codec", "Commands", "Records",
      "ChangeCodec");
  /** What reads are answered from: the mirror, its history and its waiters. */
  static final Set<String> READ_PATH = Set.of("Mirror", "ChangeHistory", "AppliedIndexWaiters", "StateView");

  static JavaClasses classes;

  @BeforeAll
  static void load() {
    classes = new ClassFileImporter().withImportOption(ArchitectureTest::mainClass).importPackages("io.roster");
  }

  /** Main classes only: not test classes, nor the test jars of other modules. */
  static boolean mainClass(Location location) {
    return !location.contains("/test-classes/") && !location.contains("-tests.jar");
  }

  static DescribedPredicate<JavaClass> in(String pkg, Set<String> names) {
    return DescribedPredicate.describe("one of " + names + " in " + pkg, c -> c.getPackageName().equals(pkg)
        && names.contains(topLevel(c))); // nested and anonymous classes with their top-level class
  }

  private static String topLevel(JavaClass c) {
    String name = c.getName().substring(c.getPackageName().length() + 1);
    int nested = name.indexOf('$');
    return nested < 0 ? name : name.substring(0, nested);
  }

  @Test
  void theCoreKnowsNoRatisRocksDbClockOrThread() {
    noClasses().that(in("io.roster.statemachine", CORE))
        .should().dependOnClassesThat(resideInAPackage("org.apache.ratis..").or(resideInAPackage("org.rocksdb.."))
            .or(resideInAPackage("java.util.concurrent..")).or(resideInAPackage("java.time..")))
        .orShould().callMethod(System.class, "nanoTime").orShould().callMethod(System.class, "currentTimeMillis")
        .orShould().dependOnClassesThat(type(Thread.class))
        .because("every peer must decide alike: the core is a function of a command and a state view")
        .check(classes);
  }

  @Test
  void readsNeverTouchTheStore() {
    noClasses().that(in("io.roster.statemachine", READ_PATH)).or(resideInAPackage("io.roster.internal"))
        .or(resideInAPackage("io.roster"))
        .should().dependOnClassesThat(resideInAPackage("org.rocksdb..")
            .or(in("io.roster.statemachine", Set.of("RocksStore", "StoreDigests", "StoreCopies"))))
        .because("reads are answered from the mirror in memory; the store is written by the apply thread only")
        .check(classes);
  }

  @Test
  void theStoreAndTheApplyPathKnowNoRatis() {
    noClasses().that(in("io.roster.statemachine", Set.of("RocksStore", "StoreDigests", "StoreCopies", "Checkpoints",
            "SnapshotArchive", "CorruptStoreException", "Replica", "AppliedListener", "Mirror", "ChangeHistory")))
        .should().dependOnClassesThat(resideInAPackage("org.apache.ratis.."))
        .because("Ratis is reached through its adapter (RegistryStateMachine, CheckpointSnapshotStorage) only")
        .check(classes);
  }

  @Test
  void theLibraryDoesNotDependOnItsCli() {
    noClasses().that(resideInAPackage("io.roster")).or(resideInAPackage("io.roster.internal.."))
        .or(resideInAPackage("io.roster.statemachine.."))
        .should().dependOnClassesThat(resideInAPackage("io.roster.server.."))
        .check(classes);
  }

  @Test
  void theStateMachineKnowsNoClientApi() {
    noClasses().that(resideInAPackage("io.roster.statemachine.."))
        .should().dependOnClassesThat(resideInAPackage("io.roster.internal..")
            .or(resideInAPackage("io.roster").and(not(type(Pid.class))).and(not(simpleNameStartingWith("Pid$")))))
        .check(classes);
  }
}
