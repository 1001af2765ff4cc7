package io.roster.core;

import static io.roster.schema.Commands.createRegistry;
import static io.roster.schema.Commands.expireSession;
import static io.roster.schema.Commands.openSession;
import static io.roster.schema.Commands.register;
import static io.roster.schema.Commands.unregister;
import static org.assertj.core.api.Assertions.assertThat;

import io.roster.Pid;
import io.roster.mirror.Mirror;
import io.roster.proto.KeyMode;
import io.roster.proto.Result;
import io.roster.proto.Status;
import io.roster.schema.Limits;
import java.lang.reflect.Proxy;
import org.junit.jupiter.api.Test;

/** The registration quotas per node and per group: counted by the mirror, enforced by the core. */
class QuotaTest {
  static final Pid A = Pid.of("n1", 1, 1);
  static final Pid B = Pid.of("c2", 1, 1);

  @Test
  void theMirrorCountsRegistrationsPerNodeAndInAll() {
    CoreHarness h = new CoreHarness();
    h.run(openSession("n1", 1));
    h.run(openSession("c2", 1));
    h.run(createRegistry("u", KeyMode.UNIQUE));
    h.run(createRegistry("d", KeyMode.DUPLICATE));
    h.run(register("u", "a", new byte[0], A));
    h.run(register("d", "a", new byte[0], A));
    h.run(register("d", "a", new byte[0], B));
    assertThat(h.mirror.registrationsOfNode("n1")).isEqualTo(2);
    assertThat(h.mirror.registrationsOfNode("c2")).isEqualTo(1);
    assertThat(h.mirror.registrationCount()).isEqualTo(3);
    h.run(unregister("u", "a", A));
    h.run(expireSession("c2", 1));
    assertThat(h.mirror.registrationsOfNode("n1")).isEqualTo(1);
    assertThat(h.mirror.registrationsOfNode("c2")).isZero();
    assertThat(h.mirror.registrationCount()).isEqualTo(1);
  }

  @Test
  void aNodeAtItsQuotaOrAGroupAtItsLimitIsRefusedAndNothingChanges() {
    CoreHarness h = new CoreHarness();
    h.run(openSession("n1", 1));
    h.run(createRegistry("u", KeyMode.UNIQUE));

    Result full = new RegistryCore().apply(view(h.mirror, Limits.REGISTRATIONS_PER_NODE_MAX, 5),
        register("u", "k", new byte[0], A), 1, 9, 0).result();
    assertThat(full.getStatus()).isEqualTo(Status.LIMIT_EXCEEDED);
    assertThat(full.getDetail()).isEqualTo("node n1's processes hold 1000000 registrations here; the limit per node is "
        + "1000000");

    var group = new RegistryCore().apply(view(h.mirror, 0, Limits.REGISTRATIONS_MAX),
        register("u", "k", new byte[0], A), 1, 9, 0);
    assertThat(group.result().getStatus()).isEqualTo(Status.LIMIT_EXCEEDED);
    assertThat(group.result().getDetail()).startsWith("this group holds 20000000 registrations; the limit is 20000000");
    assertThat(group.changes()).isEmpty();

    assertThat(h.run(register("u", "k", new byte[0], A)).getStatus()).as("below the quotas").isEqualTo(Status.OK);
  }

  /** {@code mirror} as the core sees it, but with the given registration counts. */
  private static StateView view(Mirror mirror, int perNode, long inAll) {
    return (StateView) Proxy.newProxyInstance(StateView.class.getClassLoader(), new Class<?>[] {StateView.class},
        (proxy, method, args) -> switch (method.getName()) {
          case "registrationsOfNode" -> perNode;
          case "registrationCount" -> inAll;
          default -> {
            try {
              yield method.invoke(mirror, args);
            } catch (java.lang.reflect.InvocationTargetException e) {
              throw e.getCause();
            }
          }
        });
  }
}
