package io.roster.testkit;

import io.roster.RegistryNode;
import io.roster.Role;
import io.roster.RosterException;
import io.roster.internal.node.Node;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A cluster of nodes in this JVM on 127.0.0.1: voters with data under {@code root}, plus any
 * client nodes. Ports are probed free and a bind failure (another process took the port in
 * between) restarts the voters on new ports. Closing it stops every node it started.
 *
 * <p>Every node speaks mutual TLS: the cluster makes its own CA and a certificate per node under
 * {@code root/tls} ({@link #ca()} issues more, for tests of what a certificate may do).
 */
public final class LocalCluster implements AutoCloseable {
  private static final int START_ATTEMPTS = 5;

  private final Path root;
  private final Duration sessionTimeout;
  private final Duration requestTimeout;
  private final Map<String, String> voters;
  private final Map<String, Node> nodes = new LinkedHashMap<>();
  private final CertificateAuthority ca;
  private final Path tlsDir;

  /** Whether the nodes speak mutual TLS (the default) or plaintext (to measure what TLS costs). */
  private final boolean tlsOn;

  private LocalCluster(Path root, Map<String, String> voters, Duration sessionTimeout, Duration requestTimeout,
      boolean tlsOn) {
    this.root = root;
    this.tlsOn = tlsOn;
    this.voters = voters;
    this.sessionTimeout = sessionTimeout;
    this.requestTimeout = requestTimeout;
    this.tlsDir = root.resolve("tls");
    Path saved = tlsDir.resolve(CertificateAuthority.CA_FILE);
    if (Files.exists(saved)) {
      this.ca = CertificateAuthority.load(tlsDir);
    } else {
      this.ca = CertificateAuthority.create("roster local cluster CA", Duration.ofDays(30));
      ca.save(tlsDir);
    }
  }

  /** The cluster's CA, which issued every node's certificate. */
  public CertificateAuthority ca() {
    return ca;
  }

  /** Where the CA ({@code ca.pem}) and the nodes' certificates and keys are. */
  public Path tlsDir() {
    return tlsDir;
  }

  /**
   * TLS for node {@code id} in {@code role}: a new certificate of the cluster's CA, in PEM files
   * under {@link #tlsDir()} that the node reads again when they change, with the CA's revocation
   * list ({@link #revoke}).
   */
  public io.roster.Tls tls(String id, io.roster.Tls.CertRole role) {
    // each in a directory of its own: a running node's files are never replaced by another's
    return tls(id, role, tlsDir.resolve("issued-" + ISSUED.incrementAndGet()));
  }

  private static final java.util.concurrent.atomic.AtomicLong ISSUED = new java.util.concurrent.atomic.AtomicLong();

  /** A node's own certificate, in {@code dir}, with the cluster's CA and revocation list. */
  private io.roster.Tls tls(String id, io.roster.Tls.CertRole role, Path dir) {
    CertificateAuthority.Issued issued = ca.issue(id, role, List.of("127.0.0.1", "localhost"), Duration.ofDays(30));
    issued.save(dir);
    return io.roster.Tls.pem(issued.certFile(dir), issued.keyFile(dir), tlsDir.resolve(CertificateAuthority.CA_FILE),
        revocations());
  }

  private final List<java.security.cert.X509Certificate> revoked = new ArrayList<>();

  /** The CA's revocation list every node of this cluster reads (and reloads when it changes). */
  public synchronized Path revocations() {
    Path file = tlsDir.resolve("crl.pem");
    if (!Files.exists(file)) {
      ca.writeRevocations(file, revoked, Duration.ofDays(30));
    }
    return file;
  }

  /** Revokes {@code certificate}: every node refuses it once it has reloaded the list (within a second or so). */
  public synchronized void revoke(java.security.cert.X509Certificate certificate) {
    revoked.add(certificate);
    ca.writeRevocations(tlsDir.resolve("crl.pem"), revoked, Duration.ofDays(30));
  }

  /** Whether the first voters all started: a voter started later on an empty directory joins. */
  private volatile boolean formed;

  /** Starts {@code size} voters named n1..nN, each with data under {@code root/nI}. */
  public static LocalCluster start(Path root, int size, Duration sessionTimeout, Duration requestTimeout) {
    return start(root, size, sessionTimeout, requestTimeout, true);
  }

  /**
   * {@link #start(Path, int, Duration, Duration)} with mutual TLS ({@code tls} true) or in
   * plaintext, insecure (to measure what TLS costs).
   */
  public static LocalCluster start(Path root, int size, Duration sessionTimeout, Duration requestTimeout, boolean tls) {
    RosterException last = null;
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      Map<String, String> voters = new LinkedHashMap<>();
      List<Integer> ports = freePorts(size);
      for (int i = 1; i <= size; i++) {
        voters.put("n" + i, "127.0.0.1:" + ports.get(i - 1));
      }
      LocalCluster cluster = new LocalCluster(root, voters, sessionTimeout, requestTimeout, tls);
      try {
        for (String id : voters.keySet()) {
          cluster.startVoter(id);
        }
        cluster.formed = true;
        return cluster;
      } catch (RosterException e) {
        cluster.close();
        if (!String.valueOf(e.getMessage()).contains("Address already in use")) {
          throw e; // a port probed free was taken before the node bound it: try other ports
        }
        last = e;
      }
    }
    throw last;
  }

  /**
   * {@code n} different ports free on the loopback address now (the system may hand out a port it
   * has just handed out, so each is taken once); a node that finds one taken by then fails to bind.
   */
  public static List<Integer> freePorts(int n) {
    java.util.Set<Integer> ports = new java.util.LinkedHashSet<>();
    while (ports.size() < n) {
      ports.add(freePort());
    }
    return List.copyOf(ports);
  }

  /** A port free on the loopback address now. */
  public static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private RegistryNode.Builder builder(String id) {
    // Self-fencing off: three voters and their clients share this JVM and its 2 cores, where a stall
    // of the JVM is every voter's at once, and the tests' short sessions would fence on it; the fault
    // suite (voters as processes) shows self-fencing on
    RegistryNode.Builder b = RegistryNode.builder().nodeId(id).selfFencing(false).sessionTimeout(sessionTimeout)
        .requestTimeout(requestTimeout);
    if (!tlsOn) {
      b.insecure();
    }
    voters.forEach(b::voter);
    return b;
  }

  /**
   * A plain Ratis client on {@code group} that presents a certificate of this cluster's CA for
   * {@code id} in {@code role} (none if the cluster runs in plaintext): what a tool, or an attacker
   * holding that certificate, can do.
   */
  public org.apache.ratis.client.RaftClient ratisClient(org.apache.ratis.protocol.RaftGroup group, String id,
      io.roster.Tls.CertRole role, org.apache.ratis.retry.RetryPolicy retry) {
    org.apache.ratis.conf.Parameters parameters = new org.apache.ratis.conf.Parameters();
    if (tlsOn) {
      io.roster.Tls tls = tls(id, role);
      org.apache.ratis.grpc.GrpcConfigKeys.TLS.setConf(parameters,
          new org.apache.ratis.grpc.GrpcTlsConfig(tls.keyManager(), tls.trustManager(), true));
    }
    return org.apache.ratis.client.RaftClient.newBuilder()
        .setClientId(org.apache.ratis.protocol.ClientId.randomId())
        .setProperties(new org.apache.ratis.conf.RaftProperties())
        .setParameters(parameters)
        .setRaftGroup(group)
        .setRetryPolicy(retry)
        .build();
  }

  /**
   * Starts (or restarts, from its data) the voter {@code id}; once the cluster has formed, a voter on
   * an empty data directory starts as joining ({@link RegistryNode.Builder#joining}): it is to be
   * added, or replaced under its old id, by {@link #membership()}.
   */
  public Node startVoter(String id) {
    boolean joining = formed && !Files.isDirectory(root.resolve(id).resolve("raft"));
    RegistryNode.Builder b = builder(id).role(Role.VOTER).listenAddress(voters.get(id)).dataDir(root.resolve(id))
        .joining(joining);
    Node node = (Node) (tlsOn ? b.tls(tls(id, io.roster.Tls.CertRole.VOTER, tlsDir.resolve(id))) : b).start();
    nodes.put(id, node);
    return node;
  }

  /**
   * Starts a new voter {@code id} at {@code address} (a data directory of its own under the root),
   * configured with the voters as they are now plus itself: the node runs, and joins the groups'
   * configurations when {@link #membership()} adds it.
   */
  public synchronized Node startVoter(String id, String address) {
    voters.put(id, address);
    return startVoter(id);
  }

  /** Forgets voter {@code id} (after {@link #membership()} removed it): nodes started later do not list it. */
  public synchronized void forgetVoter(String id) {
    voters.remove(id);
  }

  /** The admin view of this cluster's membership, with a new admin certificate (none in plaintext). */
  public io.roster.Membership membership() {
    return io.roster.Membership.connect("roster", Map.copyOf(voters),
        tlsOn ? tls("roster-admin", io.roster.Tls.CertRole.ADMIN) : null);
  }

  /** Starts a client node {@code id}. */
  public Node startClient(String id) {
    RegistryNode.Builder b = builder(id).role(Role.CLIENT);
    Node node = (Node) (tlsOn ? b.tls(tls(id, io.roster.Tls.CertRole.CLIENT, tlsDir.resolve(id))) : b).start();
    nodes.put(id, node);
    return node;
  }

  public Node node(String id) {
    return nodes.get(id);
  }

  public List<Node> nodes() {
    return new ArrayList<>(nodes.values());
  }

  public Map<String, String> voters() {
    return voters;
  }

  /** Waits until every running node has an open session. */
  public void awaitReady(Duration timeout) {
    for (Node n : nodes.values()) {
      try {
        n.ready().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        throw new RosterException("node " + n.nodeId() + " is not ready after " + timeout + ": " + e, e);
      }
    }
  }

  /** The node that currently leads, if a running one does. */
  public Node leader() {
    for (Node n : nodes.values()) {
      if (n.leader().map(n.nodeId()::equals).orElse(false)) {
        return n;
      }
    }
    return null;
  }

  /** Stops a node as a crash would: no goodbye, so the leader expires its session. */
  public void crash(String id) {
    Node n = nodes.remove(id);
    if (n != null) {
      n.crash();
    }
  }

  /** Stops a node cleanly: its session ends at once. */
  public void stop(String id) {
    Node n = nodes.remove(id);
    if (n != null) {
      n.close();
    }
  }

  @Override
  public void close() {
    for (String id : new ArrayList<>(nodes.keySet())) {
      crash(id); // no goodbyes: the cluster is going away as a whole
    }
  }

  /** Deletes a directory tree (the demo's temp data). */
  public static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
