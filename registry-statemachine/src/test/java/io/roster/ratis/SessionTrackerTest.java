package io.roster.ratis;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.schema.Session;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SessionTrackerTest {
  static final long MS = 1_000_000L;
  final AtomicLong now = new AtomicLong(1_000 * MS);
  SessionTracker tracker;
  final Session a = new Session("a", 1, 5_000, false, 1, "");
  final Session b = new Session("b", 1, 2_000, false, 1, "");

  @BeforeEach
  void lead() {
    tracker = new SessionTracker(now::get);
    tracker.becameLeader();
  }

  @Test
  void aSessionSilentLongerThanItsOwnTimeoutExpires() {
    assertThat(tracker.expired(List.of(a, b))).isEmpty(); // first sight
    tracker.heartbeat("a", 1);
    now.addAndGet(2_001 * MS);
    assertThat(tracker.expired(List.of(a, b))).containsExactly(b);
    tracker.heartbeat("a", 1);
    now.addAndGet(4_999 * MS);
    assertThat(tracker.expired(List.of(a))).isEmpty();
    now.addAndGet(2 * MS);
    assertThat(tracker.expired(List.of(a))).containsExactly(a);
  }

  @Test
  void aSessionFirstSeenLongAfterTheTermBeganGetsItsWholeTimeout() {
    now.addAndGet(60_000 * MS); // the leader has led for a minute
    assertThat(tracker.expired(List.of(b))).as("just opened: no heartbeat yet").isEmpty();
    now.addAndGet(1_999 * MS);
    assertThat(tracker.expired(List.of(b))).isEmpty();
    now.addAndGet(2 * MS);
    assertThat(tracker.expired(List.of(b))).containsExactly(b);
  }

  @Test
  void aNewIncarnationIsANewSessionWithItsOwnGrace() {
    tracker.heartbeat("b", 1);
    now.addAndGet(1_500 * MS);
    Session restarted = new Session("b", 2, 2_000, false, 9, "");
    assertThat(tracker.expired(List.of(restarted))).isEmpty();
    now.addAndGet(1_000 * MS);
    assertThat(tracker.expired(List.of(restarted))).as("counted from first sight, not from incarnation 1").isEmpty();
  }

  @Test
  void aNewLeaderGivesEverySessionAFreshGracePeriod() {
    tracker.heartbeat("b", 1);
    tracker.expired(List.of(b));
    now.addAndGet(10_000 * MS);
    tracker.lostLeadership();
    assertThat(tracker.leader()).isFalse();
    tracker.becameLeader();
    assertThat(tracker.expired(List.of(b))).isEmpty();
    now.addAndGet(1_999 * MS);
    assertThat(tracker.expired(List.of(b))).isEmpty();
    now.addAndGet(2 * MS);
    assertThat(tracker.expired(List.of(b))).containsExactly(b);
  }

  @Test
  void theDutyProposesASilentSessionOnceUntilTheReproposalIntervalAndNothingWhileNotLeading() {
    tracker.toExpire(List.of(a, b)); // first sight
    now.addAndGet(2_001 * MS);
    assertThat(tracker.toExpire(List.of(a, b))).as("b is silent past its 2 s").containsExactly(b);
    now.addAndGet(1_000 * MS);
    assertThat(tracker.toExpire(List.of(a, b))).as("its expiry is on its way").isEmpty();
    now.addAndGet(SessionTracker.REPROPOSE_MILLIS * MS);
    assertThat(tracker.toExpire(List.of(a, b))).as("not committed: proposed again, with a, silent past 5 s")
        .containsExactly(a, b);
    tracker.lostLeadership();
    now.addAndGet(60_000 * MS);
    assertThat(tracker.toExpire(List.of(a, b))).as("a follower proposes nothing").isEmpty();
  }

  @Test
  void aNewLeaderProposesNothingBeforeTheGraceAndForgetsEarlierProposals() {
    tracker.toExpire(List.of(b));
    now.addAndGet(2_001 * MS);
    assertThat(tracker.toExpire(List.of(b))).containsExactly(b);
    tracker.lostLeadership();
    tracker.becameLeader(); // at once: a new term
    assertThat(tracker.toExpire(List.of(b))).isEmpty();
    now.addAndGet(1_999 * MS);
    assertThat(tracker.toExpire(List.of(b))).as("the grace of the new term").isEmpty();
    now.addAndGet(2 * MS);
    assertThat(tracker.toExpire(List.of(b))).containsExactly(b);
    // the session is gone (expired or closed): a later session of that node starts afresh
    assertThat(tracker.toExpire(List.of())).isEmpty();
    Session again = new Session("b", 2, 2_000, false, 20, "");
    assertThat(tracker.toExpire(List.of(again))).isEmpty();
  }
}
