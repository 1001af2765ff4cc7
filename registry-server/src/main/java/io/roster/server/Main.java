package io.roster.server;

import io.roster.RegistryNode;
import io.roster.Role;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code roster} command: a local cluster demo, or one standalone node. */
@Command(name = "roster", mixinStandardHelpOptions = true, version = "roster 0.1.0",
    description = "A Raft-replicated process registry for the JVM.",
    subcommands = {Main.Demo.class, Main.NodeCommand.class, CertCommand.class, StatusCommand.class,
        MembersCommand.class, LeaderCommand.class, ReadCommands.Registries.class, ReadCommands.Get.class,
        ReadCommands.ListKeys.class, ReadCommands.Watch.class, ReadCommands.Sessions.class, ReadCommands.Check.class,
        SnapshotCommand.class})
public final class Main implements Runnable {
  /** Held so that the level sticks: shaded gRPC logs its transport choice through java.util.logging. */
  private static final java.util.logging.Logger GRPC_JUL = java.util.logging.Logger.getLogger("org.apache.ratis.thirdparty.io.grpc");

  public static void main(String[] args) {
    boolean demo = args.length > 0 && args[0].equals("demo");
    // The demo prints its own story; a node logs what operators need.
    System.setProperty("roster.log.level", System.getProperty("roster.log.level", demo ? "OFF" : "INFO"));
    System.setProperty("roster.ratis.log.level", System.getProperty("roster.ratis.log.level", demo ? "OFF" : "WARN"));
    GRPC_JUL.setLevel(java.util.logging.Level.WARNING);
    System.exit(new CommandLine(new Main()).execute(args));
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  /**
   * The {@code --voters} list, {@code id=host:port} each, in order.
   *
   * @throws IllegalArgumentException naming a malformed entry or a voter given twice
   */
  static Map<String, String> voters(List<String> specs) {
    Map<String, String> voters = new LinkedHashMap<>();
    for (String spec : specs) {
      int eq = spec.indexOf('=');
      if (eq <= 0 || eq == spec.length() - 1) {
        throw new IllegalArgumentException("--voters: '" + spec + "' is not id=host:port");
      }
      String voter = spec.substring(0, eq).trim();
      String address = spec.substring(eq + 1).trim();
      hostPort("--voters: voter " + voter, address);
      if (voters.putIfAbsent(voter, address) != null) {
        throw new IllegalArgumentException("--voters: voter " + voter + " is given twice");
      }
    }
    return voters;
  }

  /**
   * Checks that {@code address} is host:port with a port in 1..65535.
   *
   * @throws IllegalArgumentException naming {@code what} and the address otherwise
   */
  static void hostPort(String what, String address) {
    int colon = address.lastIndexOf(':');
    if (colon <= 0 || colon == address.length() - 1) {
      throw new IllegalArgumentException(what + ": '" + address + "' is not host:port");
    }
    int port;
    try {
      port = Integer.parseInt(address.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(what + ": '" + address + "' has no port number");
    }
    if (port < 1 || port > 65_535) {
      throw new IllegalArgumentException(what + ": port " + port + " is out of range (1..65535)");
    }
  }

  @Command(name = "demo", mixinStandardHelpOptions = true,
      description = "Starts a 3-node cluster in this JVM on 127.0.0.1 (data in a temp dir), shows registration, "
          + "local and linearizable lookups, leader failover and session expiry, then stops everything.")
  static final class Demo implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
      return new DemoRun(System.out).run();
    }
  }

  @Command(name = "node", mixinStandardHelpOptions = true,
      description = "Runs one node until interrupted (Ctrl-C ends its session cleanly).")
  static final class NodeCommand implements Callable<Integer> {
    @Option(names = "--id", required = true, description = "This node's id, unique in the cluster.")
    String id;

    @Option(names = "--voters", required = true, split = ",",
        description = "The cluster's voters: id=host:port[,id=host:port...], the same on every node.")
    List<String> voterSpecs = new java.util.ArrayList<>();

    @Option(names = "--role", defaultValue = "VOTER", description = "VOTER or CLIENT (default: ${DEFAULT-VALUE}).")
    Role role;

    @Option(names = "--data", description = "Data directory (required for a voter).")
    Path data;

    @Option(names = "--cluster", defaultValue = "roster", description = "Cluster name (default: ${DEFAULT-VALUE}).")
    String cluster;

    @Option(names = "--session-timeout", defaultValue = "PT5S",
        description = "Session timeout, ISO-8601 duration, 1s..60s (default: ${DEFAULT-VALUE}).")
    Duration sessionTimeout;

    @Option(names = "--message-address",
        description = "host:port where this node's processes receive messages from other nodes, published to them "
            + "(port 0: any free one; default: the host of its voter address, or 127.0.0.1, and port 0).")
    String messageAddress;

    @Option(names = "--tls-cert", paramLabel = "FILE",
        description = "This node's certificate chain (PEM; CN = its id, OU = voter or client): from roster cert.")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "Its private key (PEM, unencrypted PKCS#8).")
    Path tlsKey;

    @Option(names = "--tls-ca", paramLabel = "FILE", description = "The cluster's CA certificate(s) (PEM).")
    Path tlsCa;

    @Option(names = "--tls-crl", paramLabel = "FILE",
        description = "The CA's revocation list (PEM, from roster cert revoke): revoked certificates are refused. "
            + "Every TLS file is read again when it changes.")
    Path tlsCrl;

    @Option(names = "--insecure",
        description = "Run without TLS: anyone who reaches the node's ports can act as any node. For a network "
            + "that nothing else reaches.")
    boolean insecure;

    @Option(names = "--join",
        description = "This voter joins a running cluster (to be added, or replaced under its old id, by "
            + "'roster members add'): on an empty data directory it waits outside the groups' configurations, with "
            + "no election timer, until the leader admits it. Not for the voters that form a new cluster.")
    boolean join;

    @Option(names = "--http-address", paramLabel = "HOST:PORT",
        description = "Serve GET /livez and /readyz (200, or 503 with the reasons), /status (JSON) and /metrics "
            + "(Prometheus) here in plain HTTP, for probes and scrapers: unauthenticated, so bind an address only "
            + "they reach. Off by default.")
    String httpAddress;

    @Override
    public Integer call() throws Exception {
      if (httpAddress != null) {
        try {
          HealthEndpoints.address(httpAddress);
        } catch (IllegalArgumentException e) {
          System.err.println("roster node: " + e.getMessage());
          return 2;
        }
      }
      RegistryNode.Builder b = RegistryNode.builder().nodeId(id).role(role).cluster(cluster)
          .sessionTimeout(sessionTimeout);
      boolean anyTls = tlsCert != null || tlsKey != null || tlsCa != null || tlsCrl != null;
      if (anyTls && insecure) {
        System.err.println("roster node: --insecure and --tls-* both given: choose one");
        return 2;
      }
      if (!anyTls && !insecure) {
        System.err.println("roster node: TLS is required: give --tls-cert, --tls-key and --tls-ca (roster cert makes "
            + "them), or --insecure to run in plaintext on a trusted network");
        return 2;
      }
      try {
        if (anyTls) {
          if (tlsCert == null || tlsKey == null || tlsCa == null) {
            System.err.println("roster node: TLS needs all three of --tls-cert, --tls-key and --tls-ca");
            return 2;
          }
          b.tls(io.roster.Tls.pem(tlsCert, tlsKey, tlsCa, tlsCrl));
        } else {
          b.insecure();
        }
      } catch (IllegalArgumentException e) {
        System.err.println("roster node: " + e.getMessage());
        return 2;
      }
      if (messageAddress != null) {
        b.messageAddress(messageAddress);
      }
      Map<String, String> voters;
      try {
        voters = voters(voterSpecs);
        if (role == Role.VOTER && !voters.containsKey(id)) {
          throw new IllegalArgumentException("--id " + id + " is not one of --voters " + voters.keySet()
              + ": a voter must be listed there (a node that does not vote runs with --role CLIENT)");
        }
      } catch (IllegalArgumentException e) {
        System.err.println("roster node: " + e.getMessage());
        return 2;
      }
      voters.forEach(b::voter);
      if (role == Role.VOTER) {
        b.listenAddress(voters.get(id));
      }
      if (data != null) {
        b.dataDir(data);
      }
      b.joining(join);
      io.micrometer.prometheusmetrics.PrometheusMeterRegistry metrics = null;
      if (httpAddress != null) {
        metrics = Metrics.prometheus();
        b.meterRegistry(metrics);
      }
      RegistryNode node;
      try {
        node = b.start();
      } catch (IllegalArgumentException e) {
        System.err.println("roster node: " + e.getMessage());
        return 2;
      } catch (io.roster.RosterException e) {
        System.err.println("roster node: " + e.getMessage());
        return 1;
      }
      HealthEndpoints http = null;
      if (httpAddress != null) {
        try {
          http = HealthEndpoints.start(httpAddress, node::health, node::status, metrics::scrape);
        } catch (RuntimeException e) { // cannot bind (in use, not this host's address)
          node.close();
          System.err.println("roster node: " + e.getMessage());
          return 1;
        }
        System.out.println("node " + id + " serves /livez, /readyz, /status and /metrics on http://"
            + http.address().getHostString()
            + ":" + http.address().getPort());
      }
      HealthEndpoints served = http;
      CountDownLatch stopped = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        if (served != null) {
          served.close();
        }
        node.close();
        stopped.countDown();
      }, "roster-shutdown"));
      System.out.println("node " + id + " (" + role + ", incarnation " + node.incarnation()
          + ") started; waiting for a quorum to open its session...");
      node.ready().whenComplete((v, e) -> System.out.println(e == null
          ? "node " + id + " is in the cluster; leader: " + node.leader().orElse("(electing)")
          : "node " + id + " could not join: " + e.getMessage()));
      stopped.await();
      return 0;
    }
  }
}
