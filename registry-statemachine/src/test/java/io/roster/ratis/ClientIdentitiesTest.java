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
}
