package io.roster.it;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.roster.CallException;
import io.roster.Keys;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.Role;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A callee's node is a real process killed with SIGKILL while a call to it waits: the call fails
 * at once with NODE_UNREACHABLE (the kernel resets the connection), not at its timeout.
 */
class MessagingProcessCrashTest {
  static final Duration WAIT = Duration.ofSeconds(60);
  static final Duration CALL_TIMEOUT = Duration.ofMinutes(5);

  @TempDir Path dir;
  final List<RegistryNode> nodes = new ArrayList<>();
  Process child;

  @AfterEach
  void stop() {
    if (child != null) {
      child.destroyForcibly();
    }
    nodes.forEach(RegistryNode::close);
  }

  @Test
  void aCallToAProcessWhoseNodeIsKilledFailsAtOnce() throws Exception {
    Map<String, String> voters = new LinkedHashMap<>();
    List<Integer> ports = io.roster.testkit.LocalCluster.freePorts(3);
    for (String id : List.of("n1", "n2", "n3")) {
      voters.put(id, "127.0.0.1:" + ports.get(voters.size()));
    }
    Path tls = dir.resolve("tls");
    io.roster.testkit.CertificateAuthority ca = io.roster.testkit.CertificateAuthority.create("crash test CA",
        Duration.ofDays(1));
    ca.save(tls);
    for (String id : voters.keySet()) {
      ca.issue(id, io.roster.Tls.CertRole.VOTER, List.of("127.0.0.1"), Duration.ofDays(1)).save(tls);
    }
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Droster.tls.dir=" + tls, "-cp", System.getProperty("java.class.path"), CalleeNodeMain.class.getName(), "n3",
        dir.resolve("n3").toString()));
    voters.forEach((id, address) -> command.add(id + "=" + address));
    child = new ProcessBuilder(command).redirectErrorStream(true).start();
    LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(), UTF_8))) {
        for (String line = in.readLine(); line != null; line = in.readLine()) {
          if (line.startsWith("CALLEE ")) {
            lines.add(line);
          }
        }
      } catch (IOException ended) {
        // the child is gone
      }
    }, "callee-output");
    reader.setDaemon(true);
    reader.start();

    for (String id : List.of("n1", "n2")) {
      RegistryNode.Builder b = RegistryNode.builder().nodeId(id).role(Role.VOTER).listenAddress(voters.get(id))
          .dataDir(dir.resolve(id)).sessionTimeout(Duration.ofSeconds(5)).requestTimeout(Duration.ofSeconds(10))
          .tls(tls.resolve(id + ".pem"), tls.resolve(id + "-key.pem"), tls.resolve("ca.pem"));
      voters.forEach(b::voter);
      nodes.add(b.start());
    }
    RegistryNode caller = nodes.get(0);
    caller.ready().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    String ready = lines.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(ready).as("the callee node started").startsWith("CALLEE READY");

    Registry<byte[]> names = caller.registry("crash", Keys.UNIQUE);
    Pid holder = Awaitility.await().atMost(WAIT).until(() -> names.whereis("holder"), p -> p != null);
    assertThat(holder.nodeId()).isEqualTo("n3");
    CompletableFuture<byte[]> pending = caller.callAsync(holder, "wait".getBytes(UTF_8), CALL_TIMEOUT);
    assertThat(lines.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("the call reached the callee").isEqualTo("CALLEE CALL");

    child.destroyForcibly(); // SIGKILL: no goodbye, no stream closed by the JVM
    assertThat(child.waitFor(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
    assertThat(pending).failsWithin(WAIT).withThrowableOfType(ExecutionException.class).havingCause()
        .isInstanceOfSatisfying(CallException.class, e ->
            assertThat(e.reason()).isEqualTo(CallException.Reason.NODE_UNREACHABLE));
    // and the dead node's name leaves with its session
    Awaitility.await("the killed node's name is removed").atMost(WAIT).until(() -> names.whereisConsistent("holder") == null);
  }
}
