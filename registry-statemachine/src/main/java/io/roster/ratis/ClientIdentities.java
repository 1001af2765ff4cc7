package io.roster.ratis;

import io.roster.core.Authorization;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.ratis.protocol.ClientId;

/**
 * The identity each Ratis client id authenticated as: bound by the server's gRPC gate when a
 * request arrives over mutual TLS, read by the state machine when the leader decides whether to
 * append it ({@link Authorization}). A client id is bound to one identity: a request that presents
 * a client id bound to another identity is refused at the gate. Bounded: the least recently used
 * ids are forgotten past {@link #CLIENTS_MAX} (a forgotten live client is bound again by its next
 * request, which comes through the gate first). Thread-safe.
 */
public final class ClientIdentities {
  /** Client ids remembered at most. */
  public static final int CLIENTS_MAX = 65_536;

  private final Map<ClientId, Authorization.Identity> bound = new LinkedHashMap<>(1024, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<ClientId, Authorization.Identity> eldest) {
      return size() > CLIENTS_MAX;
    }
  };

  /**
   * Binds {@code client} to {@code who}; false if it is bound to another identity. The same node's
   * voter certificate moves between client and voter as the node is added to or removed from the
   * voters: that rebinds the id to the node's kind now.
   */
  public synchronized boolean bind(ClientId client, Authorization.Identity who) {
    Authorization.Identity already = bound.putIfAbsent(client, who);
    if (already == null || already.equals(who)) {
      return true;
    }
    if (already.nodeId().equals(who.nodeId()) && movesBetweenClientAndVoter(already.kind(), who.kind())) {
      bound.put(client, who);
      return true;
    }
    return false;
  }

  private static boolean movesBetweenClientAndVoter(Authorization.Identity.Kind a, Authorization.Identity.Kind b) {
    return a != Authorization.Identity.Kind.ADMIN && b != Authorization.Identity.Kind.ADMIN;
  }

  /** The identity {@code client} is bound to, or null. */
  public synchronized Authorization.Identity of(ClientId client) {
    return bound.get(client);
  }
}
