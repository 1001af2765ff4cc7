package io.roster.faults;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The checker accepts what a linearizable registry may do and catches planted anomalies. */
class LinearizabilityTest {
  private final List<Op> h = new ArrayList<>();

  private void op(String client, String f, String arg, String out, long call, long ret) {
    h.add(new Op(h.size(), client, "k", f, arg, out, call, ret));
  }

  private Linearizability.Report check() {
    return Linearizability.check(h, Model.UNIQUE_KEY);
  }

  @Test
  void sequentialRegisterReadUnregisterIsLinearizable() {
    op("a", "register", "p1", "ok", 0, 10);
    op("b", "read", null, "p1", 11, 12);
    op("b", "register", "p2", "taken:p1", 13, 14);
    op("a", "unregister", "p1", "ok", 15, 20);
    op("b", "read", null, "none", 21, 22);
    assertThat(check().anomalies()).isEmpty();
  }

  @Test
  void aReadOverlappingAWriteMaySeeEitherSide() {
    op("a", "register", "p1", "ok", 0, 100);
    op("b", "read", null, "none", 10, 20);
    op("c", "read", null, "p1", 30, 40);
    op("d", "read", null, "p1", 50, 60);
    assertThat(check().anomalies()).isEmpty();
  }

  @Test
  void aStaleReadIsCaught() {
    op("a", "register", "p1", "ok", 0, 10);
    op("b", "read", null, "none", 20, 30); // began after the register returned
    Linearizability.Report r = check();
    assertThat(r.anomalies()).hasSize(1);
    assertThat(r.anomalies().get(0).explanation()).contains("not linearizable");
  }

  @Test
  void aReadGoingBackInTimeIsCaught() {
    op("a", "register", "p1", "ok", 0, 100);
    op("b", "read", null, "p1", 10, 20);
    op("c", "read", null, "none", 30, 40); // after another read saw the write
    assertThat(check().anomalies()).hasSize(1);
  }

  @Test
  void aLostWriteIsCaught() {
    op("a", "register", "p1", "ok", 0, 10);
    op("b", "read", null, "p1", 11, 12);
    op("b", "read", null, "none", 13, 14); // nobody unregistered
    op("b", "register", "p2", "ok", 15, 16);
    assertThat(check().anomalies()).hasSize(1);
  }

  @Test
  void twoOwnersAreCaught() {
    op("a", "register", "p1", "ok", 0, 10);
    op("b", "register", "p2", "ok", 5, 15);
    assertThat(check().anomalies()).hasSize(1);
  }

  @Test
  void anIndeterminateWriteMayHaveTakenEffectOrNot() {
    op("a", "register", "p1", null, 0, Op.INDETERMINATE);
    op("b", "read", null, "none", 5, 6);
    op("b", "read", null, "p1", 10, 11); // it took effect late: allowed
    assertThat(check().anomalies()).isEmpty();

    h.clear();
    op("a", "register", "p1", null, 0, Op.INDETERMINATE);
    op("b", "register", "p2", "ok", 5, 6); // it never took effect: allowed
    op("b", "read", null, "p2", 10, 11);
    assertThat(check().anomalies()).isEmpty();

    h.clear();
    op("a", "register", "p1", null, 0, Op.INDETERMINATE);
    op("b", "read", null, "p1", 5, 6);
    op("b", "read", null, "none", 10, 11); // took effect, then vanished: a lost write
    assertThat(check().anomalies()).hasSize(1);
  }

  @Test
  void anIndeterminateReadConstrainsNothing() {
    op("a", "register", "p1", "ok", 0, 10);
    op("b", "read", null, null, 20, Op.INDETERMINATE);
    assertThat(check().anomalies()).isEmpty();
  }

  @Test
  void casCounterCatchesALostUpdate() {
    List<Op> ok = List.of(
        new Op(0, "a", "c", "cas", "0>1", "ok", 0, 10),
        new Op(1, "b", "c", "cas", "0>1", "fail:1", 5, 15),
        new Op(2, "b", "c", "cas", "1>2", "ok", 16, 20),
        new Op(3, "a", "c", "read", null, "2", 21, 22));
    assertThat(Linearizability.check(ok, Model.CAS_COUNTER).anomalies()).isEmpty();
    List<Op> lost = List.of(
        new Op(0, "a", "c", "cas", "0>1", "ok", 0, 10),
        new Op(1, "b", "c", "cas", "0>1", "ok", 11, 15)); // both saw 0: one update lost
    assertThat(Linearizability.check(lost, Model.CAS_COUNTER).anomalies()).hasSize(1);
  }

  @Test
  void manyConcurrentOperationsAreDecidedWithinTheBudget() {
    // 6 clients, 600 operations over one key, each client's ops sequential, much overlap
    java.util.Random random = new java.util.Random(7);
    String owner = "none";
    long t = 0;
    for (int i = 0; i < 600; i++) {
      String client = "c" + (i % 6);
      String pid = "p" + (i % 6);
      long call = t;
      long ret = t + 1 + random.nextInt(40);
      t += 7;
      switch (random.nextInt(3)) {
        case 0 -> {
          String out = owner.equals("none") ? "ok" : "taken:" + owner;
          if (owner.equals("none")) {
            owner = pid;
          }
          op(client, "register", pid, out, call, ret);
        }
        case 1 -> {
          if (owner.equals(pid)) {
            owner = "none";
          }
          op(client, "unregister", pid, "ok", call, ret);
        }
        default -> op(client, "read", null, owner, call, ret);
      }
    }
    Linearizability.Report r = check();
    assertThat(r.undecided()).isEmpty();
    assertThat(r.anomalies()).isEmpty();
  }

  @Test
  void aDuplicateKeyKeepsEveryOwnerAndUnregisterRemovesAllOfOne() {
    op("a", "register", "p1", "ok", 0, 10);
    op("b", "register", "p2", "ok", 11, 20);
    op("a", "register", "p1", "ok", 21, 30);
    op("c", "read", null, "p1,p1,p2", 31, 40);
    op("a", "unregister", "p1", "ok", 41, 50);
    op("c", "read", null, "p2", 51, 60);
    assertThat(Linearizability.check(h, Model.DUPLICATE_KEY).anomalies()).isEmpty();
  }

  @Test
  void aLostRegistrationOfADuplicateKeyIsCaught() {
    op("a", "register", "p1", "ok", 0, 10);
    op("b", "register", "p2", "ok", 11, 20);
    op("c", "read", null, "p2", 31, 40); // p1's entry vanished with no unregister
    assertThat(Linearizability.check(h, Model.DUPLICATE_KEY).anomalies()).hasSize(1);
  }

  @Test
  void anUnregisterOfADuplicateKeyThatLeftAnEntryIsCaught() {
    op("a", "register", "p1", "ok", 0, 10);
    op("a", "register", "p1", "ok", 11, 20);
    op("a", "unregister", "p1", "ok", 21, 30);
    op("c", "read", null, "p1", 31, 40); // unregister removes every entry of its caller
    assertThat(Linearizability.check(h, Model.DUPLICATE_KEY).anomalies()).hasSize(1);
  }
}
