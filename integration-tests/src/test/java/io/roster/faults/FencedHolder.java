package io.roster.faults;

import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.Role;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A client node in a process of its own (in a network namespace of {@link NetCluster}) that holds
 * a name and a lock, and says on its standard output, each line stamped with the wall clock, when
 * it took the lock, when it learned the lock was lost, and what a write met afterwards. The fencing
 * tests cut it off or pause it and compare its lines with what the rest of the cluster saw.
 *
 * <p>Arguments: node id, message address (host), voters ({@code id=host:port,...}), session
 * timeout in milliseconds, registry, name key, lock key.
 */
public final class FencedHolder {
  private FencedHolder() {}

  public static void main(String[] args) throws Exception {
    RegistryNode.Builder b = RegistryNode.builder().nodeId(args[0]).role(Role.CLIENT).insecure()
        .messageAddress(args[1] + ":0").sessionTimeout(Duration.ofMillis(Long.parseLong(args[3])))
        .requestTimeout(Duration.ofSeconds(5));
    for (String voter : args[2].split(",")) {
      String[] idAddress = voter.split("=", 2);
      b.voter(idAddress[0], idAddress[1]);
    }
    RegistryNode node = b.start();
    node.ready().get(120, TimeUnit.SECONDS);
    Registry<byte[]> registry = node.registry(args[4]);
    LocalProcess holder = node.spawn();
    long named = registry.register(args[5], holder, new byte[0]);
    say("NAMED " + named);
    try {
      registry.lockWithLease(args[6], holder, null, lease -> {
        say("ACQUIRED " + lease.fencingToken());
        lease.lost().toCompletableFuture().join();
        say("LOST held=" + lease.held());
        return null;
      });
    } catch (RuntimeException releaseFailed) {
      say("RELEASE " + releaseFailed.getClass().getSimpleName());
    }
    try {
      registry.register(args[5] + "-after", node.spawn(), new byte[0]);
      say("WRITE accepted");
    } catch (RuntimeException e) {
      say("WRITE refused " + e.getClass().getSimpleName());
    }
    say("DONE");
    Runtime.getRuntime().halt(0); // a node cut off from the cluster needs not say goodbye
  }

  private static void say(String line) {
    System.out.println("@" + System.currentTimeMillis() + " " + line);
    System.out.flush();
  }
}
