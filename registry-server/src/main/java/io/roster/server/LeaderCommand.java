package io.roster.server;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code roster leader transfer}: hands the cluster group's leadership to a voter, with an admin certificate. */
@Command(name = "leader", mixinStandardHelpOptions = true, description = "Steers the cluster group's leadership.",
    subcommands = LeaderCommand.Transfer.class)
final class LeaderCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(name = "transfer", mixinStandardHelpOptions = true,
      description = "Hands the cluster group's leadership to a voter (before restarting the leader's host, say).")
  static class Transfer implements Callable<Integer> {
    @Mixin MembersCommand.Reach reach;

    @Option(names = "--id", required = true, description = "The voter to lead.")
    String id;

    @Override
    public Integer call() {
      return MembersCommand.run("leader transfer", m -> {
        m.transferLeadership(id);
        System.out.println("voter " + id + " leads the cluster's group");
      }, reach);
    }
  }
}
