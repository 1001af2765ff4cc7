package io.roster.ratis;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.junit.jupiter.api.Test;

class LeaderContactTest {
  private static RaftPeer peer(String id) {
    return RaftPeer.newBuilder().setId(id).setAddress("localhost:1").build();
  }

  private static final List<RaftPeer> THREE = List.of(peer("n1"), peer("n2"), peer("n3"));

  @Test
  void aMajorityOfThreeIsTheLeaderAndItsMostRecentFollower() {
    assertThat(LeaderContact.majorityAge(THREE, Map.of(RaftPeerId.valueOf("n1"), 0L,
        RaftPeerId.valueOf("n2"), 420L, RaftPeerId.valueOf("n3"), 180L))).isEqualTo(180);
  }

  @Test
  void aFollowerNotHeardOfCountsAsNeverHeard() {
    assertThat(LeaderContact.majorityAge(THREE, Map.of(RaftPeerId.valueOf("n1"), 0L,
        RaftPeerId.valueOf("n2"), 9_000L))).isEqualTo(9_000);
    assertThat(LeaderContact.majorityAge(THREE, Map.of(RaftPeerId.valueOf("n1"), 0L))).isEqualTo(Long.MAX_VALUE);
  }

  @Test
  void aLoneVoterIsItsOwnMajority() {
    assertThat(LeaderContact.majorityAge(List.of(peer("n1")), Map.of(RaftPeerId.valueOf("n1"), 0L))).isZero();
  }

  @Test
  void fourVotersNeedThreeOfThem() {
    List<RaftPeer> four = List.of(peer("n1"), peer("n2"), peer("n3"), peer("n4"));
    assertThat(LeaderContact.majorityAge(four, Map.of(RaftPeerId.valueOf("n1"), 0L, RaftPeerId.valueOf("n2"), 100L,
        RaftPeerId.valueOf("n3"), 200L, RaftPeerId.valueOf("n4"), 300L))).isEqualTo(200);
  }
}
