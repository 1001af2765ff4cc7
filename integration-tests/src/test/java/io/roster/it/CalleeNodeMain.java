package io.roster.it;

import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.Role;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * A voter in a JVM of its own, for {@link MessagingProcessCrashTest}: it starts a process named
 * "holder" that takes calls and never answers, prints "CALLEE READY" once the name is registered
 * and "CALLEE CALL" when a call arrives, then runs until it is killed.
 *
 * <p>Arguments: node id, data directory, then voters as id=host:port.
 */
public final class CalleeNodeMain {
  private CalleeNodeMain() {}

  public static void main(String[] args) throws Exception {
    String id = args[0];
    RegistryNode.Builder b = RegistryNode.builder().nodeId(id).role(Role.VOTER).dataDir(Path.of(args[1]))
        .sessionTimeout(Duration.ofSeconds(5)).requestTimeout(Duration.ofSeconds(10));
    Path tls = Path.of(System.getProperty("roster.tls.dir"));
    b.tls(tls.resolve(id + ".pem"), tls.resolve(id + "-key.pem"), tls.resolve("ca.pem"));
    for (int i = 2; i < args.length; i++) {
      String[] voter = args[i].split("=", 2);
      b.voter(voter[0], voter[1]);
      if (voter[0].equals(id)) {
        b.listenAddress(voter[1]);
      }
    }
    RegistryNode node = b.start();
    node.ready().get();
    Registry<byte[]> names = node.registry("crash", Keys.UNIQUE);
    LocalProcess holder = node.spawn(names.via("holder"), (self, mail) -> {
      if (mail.isCall()) {
        System.out.println("CALLEE CALL");
        System.out.flush();
      }
    });
    System.out.println("CALLEE READY " + holder.pid());
    System.out.flush();
    new CountDownLatch(1).await(); // until killed
  }
}
