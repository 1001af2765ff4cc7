package io.roster.server;

import io.roster.Membership;
import io.roster.RosterException;
import io.roster.Tls;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code roster voters}: list, add, remove voters and hand over leadership, with an admin certificate. */
@Command(name = "voters", mixinStandardHelpOptions = true,
    description = "Lists or changes the cluster's voters (the cluster's group and every partition group).",
    subcommands = {VotersCommand.ListVoters.class, VotersCommand.Add.class, VotersCommand.Remove.class,
        VotersCommand.Transfer.class})
final class VotersCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  /** How to reach the cluster: any voters, the cluster name and an admin certificate. */
  static final class Reach {
    @Option(names = "--voters", required = true, split = ",",
        description = "Voters to reach the cluster through: id=host:port[,id=host:port...] (any that answers will do).")
    List<String> voters;

    @Option(names = "--cluster", defaultValue = "roster", description = "Cluster name (default: ${DEFAULT-VALUE}).")
    String cluster;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "An admin certificate (roster cert issue --role admin).")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "Its private key.")
    Path tlsKey;

    @Option(names = "--tls-ca", paramLabel = "FILE", description = "The cluster's CA certificate(s).")
    Path tlsCa;

    @Option(names = "--insecure", description = "Reach a cluster that runs without TLS.")
    boolean insecure;

    Membership connect() {
      return Membership.connect(cluster, seeds(), tls());
    }

    /** The voters given (id → address). */
    Map<String, String> seeds() {
      return Main.voters(voters);
    }

    /** The admin certificate given, or null with --insecure. */
    Tls tls() {
      boolean anyTls = tlsCert != null || tlsKey != null || tlsCa != null;
      if (anyTls == insecure) {
        throw new IllegalArgumentException("give --tls-cert, --tls-key and --tls-ca (an admin certificate), or --insecure");
      }
      if (anyTls && (tlsCert == null || tlsKey == null || tlsCa == null)) {
        throw new IllegalArgumentException("TLS needs all three of --tls-cert, --tls-key and --tls-ca");
      }
      return anyTls ? Tls.pem(tlsCert, tlsKey, tlsCa) : null;
    }
  }

  /** Runs {@code action}, printing a failure in one line; 2 for bad input, 1 for a failed change. */
  static int run(String what, java.util.function.Consumer<Membership> action, Reach reach) {
    try (Membership m = reach.connect()) {
      action.accept(m);
      return 0;
    } catch (IllegalArgumentException e) {
      System.err.println("roster voters " + what + ": " + e.getMessage());
      return 2;
    } catch (RosterException e) {
      System.err.println("roster voters " + what + ": " + e.getMessage());
      return 1;
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "Prints the cluster's voters.")
  static final class ListVoters implements Callable<Integer> {
    @Mixin Reach reach;

    @Override
    public Integer call() {
      return run("list", m -> m.voters().forEach((id, address) -> System.out.println(id + "=" + address)), reach);
    }
  }

  @Command(name = "add", mixinStandardHelpOptions = true,
      description = "Adds a running node as a voter: start it first (roster node) with the voters list that names "
          + "it; it catches up without a vote, then votes, in every group.")
  static final class Add implements Callable<Integer> {
    @Mixin Reach reach;

    @Option(names = "--id", required = true, description = "The new voter's id.")
    String id;

    @Option(names = "--address", required = true, description = "Its Raft address, host:port.")
    String address;

    @Override
    public Integer call() {
      return run("add", m -> {
        m.addVoter(id, address);
        System.out.println("voter " + id + " added; voters now " + m.voters().keySet());
      }, reach);
    }
  }

  @Command(name = "remove", mixinStandardHelpOptions = true,
      description = "Removes a voter from every group; stop its node afterwards.")
  static final class Remove implements Callable<Integer> {
    @Mixin Reach reach;

    @Option(names = "--id", required = true, description = "The voter to remove.")
    String id;

    @Override
    public Integer call() {
      return run("remove", m -> {
        m.removeVoter(id);
        System.out.println("voter " + id + " removed; voters now " + m.voters().keySet());
      }, reach);
    }
  }

  @Command(name = "transfer-leadership", mixinStandardHelpOptions = true,
      description = "Hands the cluster group's leadership to a voter.")
  static final class Transfer implements Callable<Integer> {
    @Mixin Reach reach;

    @Option(names = "--id", required = true, description = "The voter to lead.")
    String id;

    @Override
    public Integer call() {
      return run("transfer-leadership", m -> {
        m.transferLeadership(id);
        System.out.println("voter " + id + " leads the cluster's group");
      }, reach);
    }
  }
}
