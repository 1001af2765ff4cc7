package io.roster.ratis;

import static org.assertj.core.api.Assertions.assertThat;

import io.roster.core.Authorization.Identity.Kind;
import io.roster.core.Authorization.Identity;
import org.apache.ratis.protocol.ClientId;
import org.junit.jupiter.api.Test;

class ClientIdentitiesTest {
  static final Identity C1 = new Identity("c1", Kind.CLIENT);
  static final Identity N2 = new Identity("n2", Kind.VOTER);

  @Test
  void aClientIdStaysBoundToTheFirstIdentityThatUsedIt() {
    ClientIdentities ids = new ClientIdentities();
    ClientId id = ClientId.randomId();
    assertThat(ids.bind(id, C1)).isTrue();
    assertThat(ids.bind(id, C1)).isTrue();
    assertThat(ids.bind(id, N2)).isFalse();
    assertThat(ids.of(id)).isEqualTo(C1);
    assertThat(ids.of(ClientId.randomId())).isNull();
  }

  @Test
  void aNodeAddedAsAVoterKeepsItsClientIdAsAVoter() {
    ClientIdentities ids = new ClientIdentities();
    ClientId id = ClientId.randomId();
    assertThat(ids.bind(id, new Identity("n4", Kind.CLIENT))).isTrue(); // before it joined the voters
    assertThat(ids.bind(id, new Identity("n4", Kind.VOTER))).isTrue();
    assertThat(ids.of(id)).isEqualTo(new Identity("n4", Kind.VOTER));
    assertThat(ids.bind(id, new Identity("n4", Kind.ADMIN))).as("never into or out of admin").isFalse();
  }
}
