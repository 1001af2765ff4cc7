package io.roster.testkit;

import io.roster.Tls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A JUnit 5 extension that runs a Roster cluster of voters in the test's JVM over loopback, with
 * mutual TLS and a certificate authority made for it, data in a temp directory: started before the
 * tests and closed after them (for the class when the field is static, and its {@code @Nested}
 * classes share it; for each test otherwise).
 *
 * <pre>{@code
 * class OrdersTest {
 *   @RegisterExtension
 *   static final RosterCluster cluster = RosterCluster.voters(3).sessionTimeout(Duration.ofSeconds(3)).build();
 *
 *   @Test
 *   void findsTheBillingService() {
 *     RegistryNode app = cluster.client("app");        // a client node, as a service JVM runs one
 *     ...
 *     cluster.crash("n1");                              // no goodbye, as kill -9
 *     cluster.restart("n1");                            // from its data directory
 *   }
 * }
 * }</pre>
 *
 * <p>Like {@link LocalCluster}, its voters run with self-fencing off: they share one JVM, where a
 * stall is every voter's at once. Nodes a test builds itself ({@link #clientTls}) keep it on.
 */
public final class RosterCluster implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback,
    AfterEachCallback {
  private final int size;
  private final Duration sessionTimeout;
  private final Duration requestTimeout;
  private final boolean tls;
  private Path root;
  private LocalCluster cluster;
  /** Whether it was started for the whole class (a static field), so that each test does not restart it. */
  private boolean perClass;
  /** The test class that started it: a {@code @Nested} class inherits the field and must not start it again. */
  private String startedBy;

  private RosterCluster(Builder b) {
    this.size = b.size;
    this.sessionTimeout = b.sessionTimeout;
    this.requestTimeout = b.requestTimeout;
    this.tls = b.tls;
  }

  /** A cluster of {@code size} voters, n1..nN (1 to 7). */
  public static Builder voters(int size) {
    if (size < 1 || size > 7) {
      throw new IllegalArgumentException("a test cluster has 1 to 7 voters, not " + size);
    }
    return new Builder(size);
  }

  /** How the cluster is made. */
  public static final class Builder {
    private final int size;
    private Duration sessionTimeout = Duration.ofSeconds(5);
    private Duration requestTimeout = Duration.ofSeconds(10);
    private boolean tls = true;

    private Builder(int size) {
      this.size = size;
    }

    /** The nodes' session timeout (default 5 s): how soon a crashed node's names go. */
    public Builder sessionTimeout(Duration timeout) {
      this.sessionTimeout = timeout;
      return this;
    }

    /** How long a write or linearizable read waits at most (default 10 s). */
    public Builder requestTimeout(Duration timeout) {
      this.requestTimeout = timeout;
      return this;
    }

    /** Plaintext instead of mutual TLS (default: TLS). */
    public Builder insecure() {
      this.tls = false;
      return this;
    }

    public RosterCluster build() {
      return new RosterCluster(this);
    }
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    if (cluster != null) {
      return; // an enclosing class's cluster: a @Nested class shares it
    }
    perClass = true;
    startedBy = context.getUniqueId();
    start();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (context.getUniqueId().equals(startedBy)) {
      startedBy = null;
      stop();
    }
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    if (!perClass && cluster == null) {
      start();
    }
  }

  @Override
  public void afterEach(ExtensionContext context) {
    if (!perClass) {
      stop();
    }
  }

  private void start() {
    try {
      root = Files.createTempDirectory("roster-cluster");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    cluster = LocalCluster.start(root, size, sessionTimeout, requestTimeout, tls);
    cluster.awaitReady(Duration.ofSeconds(60));
  }

  private void stop() {
    try {
      if (cluster != null) {
        cluster.close();
      }
    } finally {
      cluster = null;
      if (root != null) {
        LocalCluster.deleteTree(root);
        root = null;
      }
    }
  }

  /** The running cluster (its nodes, leader, membership). */
  public LocalCluster cluster() {
    if (cluster == null) {
      throw new IllegalStateException("the cluster runs only while the tests do");
    }
    return cluster;
  }

  /** The voters, id to host:port. */
  public Map<String, String> voters() {
    return java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(cluster().voters()));
  }

  /** The voters as one {@code id=host:port,...} list, as {@code roster node --voters} and properties take it. */
  public String votersList() {
    return voters().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
  }

  /** A client node of this cluster, in this JVM, closed with the cluster. */
  public io.roster.RegistryNode client(String id) {
    return cluster().startClient(id);
  }

  /** Voter {@code id} stops without a goodbye, as {@code kill -9}: its session expires after the timeout. */
  public void crash(String id) {
    cluster().crash(id);
  }

  /** Starts voter {@code id} again from its data directory. */
  public void restart(String id) {
    cluster().startVoter(id);
  }

  /** The voter that leads the cluster's group now, or null while none of the running ones does. */
  public String leader() {
    io.roster.RegistryNode n = cluster().leader();
    return n == null ? null : n.nodeId();
  }

  /**
   * Certificate files for a node of this cluster that a test starts itself (a Spring application,
   * a process): {@code id}'s certificate and key in {@code role}, and the CA, written under the
   * cluster's temp directory. Null files in plaintext.
   */
  public CertificateFiles certificates(String id, Tls.CertRole role) {
    LocalCluster running = cluster(); // throws outside the tests' run
    if (!tls) {
      return new CertificateFiles(null, null, null);
    }
    Path dir = root.resolve("certs-" + id);
    CertificateAuthority.Issued issued = running.ca().issue(id, role, List.of("127.0.0.1", "localhost"),
        Duration.ofDays(1));
    issued.save(dir);
    return new CertificateFiles(issued.certFile(dir), issued.keyFile(dir),
        running.tlsDir().resolve(CertificateAuthority.CA_FILE));
  }

  /** A client node's certificate files ({@link #certificates} in the client role). */
  public CertificateFiles clientTls(String id) {
    return certificates(id, Tls.CertRole.CLIENT);
  }

  /** A node's PEM files: its certificate chain, its private key, and the cluster's CA. */
  public record CertificateFiles(Path cert, Path key, Path ca) {}
}
