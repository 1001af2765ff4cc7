package io.roster.server;

import io.roster.ClusterReader;
import io.roster.Membership;
import io.roster.Tls;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code roster members}: list, add, remove and replace voters, with an admin certificate. */
@Command(name = "members", aliases = "voters", mixinStandardHelpOptions = true,
    description = "Lists or changes the cluster's voters (the cluster's group and every partition group).",
    subcommands = {MembersCommand.ListVoters.class, MembersCommand.Add.class, MembersCommand.Remove.class,
        MembersCommand.Replace.class, MembersCommand.TransferLeadership.class})
final class MembersCommand implements Runnable {
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

    ClusterReader reader() {
      return ClusterReader.connect(cluster, seeds(), tls());
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
    return Admin.run(what.startsWith("leader") ? what : "members " + what, () -> {
      try (Membership m = reach.connect()) {
        action.accept(m);
        return 0;
      }
    });
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
        Main.hostPort("--address", address);
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

  @Command(name = "replace", mixinStandardHelpOptions = true,
      description = "Replaces a voter (a lost or corrupt disk, a moved host): removes it from every group, then adds "
          + "its replacement. Stop the old node first; start the new one (roster node --join, empty data directory, "
          + "the same id or another) once this command says the old one is removed: it waits 60 s for it.")
  static final class Replace implements Callable<Integer> {
    @Mixin Reach reach;

    @Option(names = "--id", required = true, description = "The voter to replace.")
    String id;

    @Option(names = "--with", description = "The replacement's id (default: the same id).")
    String with;

    @Option(names = "--address", required = true, description = "The replacement's Raft address, host:port.")
    String address;

    @Override
    public Integer call() {
      return run("replace", m -> {
        Main.hostPort("--address", address);
        java.util.Map<String, String> now = m.voters();
        if (!now.containsKey(id)) {
          throw new IllegalArgumentException("voter " + id + " is not a member: " + now.keySet());
        }
        if (with != null && !with.equals(id) && now.containsKey(with)) {
          throw new IllegalArgumentException("voter " + with + " is a member already: the replacement needs an id "
              + "that is not (or the old one's)");
        }
        now.forEach((voter, at) -> {
          if (!voter.equals(id) && at.equals(address)) {
            throw new IllegalArgumentException("address " + address + " is voter " + voter + "'s");
          }
        });
        m.removeVoter(id);
        String next = with == null ? id : with;
        System.out.println("voter " + id + " removed; start " + next + " now (roster node --join) at " + address);
        m.addVoter(next, address);
        System.out.println("voter " + next + " added; voters now " + m.voters().keySet());
      }, reach);
    }
  }

  /** The name {@code leader transfer} had before, kept for scripts. */
  @Command(name = "transfer-leadership", hidden = true, mixinStandardHelpOptions = true,
      description = "Hands the cluster group's leadership to a voter: roster leader transfer.")
  static final class TransferLeadership extends LeaderCommand.Transfer {}
}
