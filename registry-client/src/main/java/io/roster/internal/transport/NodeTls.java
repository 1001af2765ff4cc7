package io.roster.internal.transport;

import io.roster.RosterException;
import io.roster.Tls;
import io.roster.internal.NodeConfig;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.apache.ratis.grpc.GrpcTlsConfig;
import org.apache.ratis.thirdparty.io.grpc.Attributes;
import org.apache.ratis.thirdparty.io.grpc.Grpc;
import org.apache.ratis.thirdparty.io.grpc.netty.GrpcSslContexts;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyServerBuilder;
import org.apache.ratis.thirdparty.io.netty.handler.ssl.ClientAuth;
import org.apache.ratis.thirdparty.io.netty.handler.ssl.OpenSslSessionContext;
import org.apache.ratis.thirdparty.io.netty.handler.ssl.OpenSslSessionTicketKey;
import org.apache.ratis.thirdparty.io.netty.handler.ssl.SslContext;

/**
 * A node's mutual TLS: the Ratis settings of its server and clients, and the Netty contexts of its
 * messaging server and channels, all from one {@link Tls}. Every handshake checks the peer's chain
 * against the trusted CAs and the subject's node id and role ({@link PeerTrust}); a server this node
 * connects to must be the node expected at that address.
 */
public final class NodeTls {
  /** A handshake that has not finished within this is dropped. */
  static final long HANDSHAKE_MILLIS = 5_000;

  private final Tls tls;
  private final NodeConfig config;

  public NodeTls(Tls tls, NodeConfig config) {
    this.tls = tls;
    this.config = config;
  }

  /**
   * Checks that the certificate this node presents names it and its role: a voter's must say
   * {@code voter}; a client node's {@code client} or {@code admin}.
   *
   * @throws IllegalArgumentException naming what is wrong
   */
  public static void checkOwn(Tls tls, String nodeId, io.roster.Role role) {
    X509Certificate own = null;
    for (String keyType : java.util.List.of("EC", "RSA", "EdDSA", "Ed25519")) {
      String alias = tls.keyManager().chooseServerAlias(keyType, null, null);
      X509Certificate[] chain = alias == null ? null : tls.keyManager().getCertificateChain(alias);
      if (chain != null && chain.length > 0) {
        own = chain[0];
        break;
      }
    }
    if (own == null) {
      throw new IllegalArgumentException("tls: the key manager offers no certificate for node " + nodeId);
    }
    String id = Tls.nodeId(own);
    Tls.CertRole certRole = Tls.role(own);
    if (!id.equals(nodeId)) {
      throw new IllegalArgumentException("tls: the certificate names node '" + id + "' (CN), not this node '" + nodeId + "'");
    }
    boolean fits = role == io.roster.Role.VOTER ? certRole == Tls.CertRole.VOTER : certRole != Tls.CertRole.VOTER;
    if (!fits) {
      throw new IllegalArgumentException("tls: node " + nodeId + " runs as " + role + " but its certificate's role "
          + "(OU) is " + certRole.name().toLowerCase(java.util.Locale.ROOT));
    }
  }

  /**
   * For Ratis' server, client and admin endpoints: a server reached must be the voter configured at
   * its address, on a voter certificate.
   */
  GrpcTlsConfig ratis() {
    return new GrpcTlsConfig(tls.keyManager(),
        new PeerTrust(tls.trustManager(), this::voterAt, true, config.voters()::containsKey), true);
  }

  /** The voter configured at {@code host:port}, or null. */
  private String voterAt(String host, int port) {
    for (Map.Entry<String, String> v : config.voters().entrySet()) {
      if (NodeConfig.port(v.getValue()) == port && NodeConfig.host(v.getValue()).equalsIgnoreCase(host)) {
        return v.getKey();
      }
    }
    return null;
  }

  /**
   * The Raft server's context (it replaces the one Ratis builds from {@link #ratis()}): the same
   * key manager and peer checks, without session resumption ({@link Server}).
   */
  Server raftServer() {
    return server(new PeerTrust(tls.trustManager(), this::voterAt, true, config.voters()::containsKey), "Raft");
  }

  /** The messaging server's context: a client certificate of the cluster's CA is required. */
  public Server messagingServer() {
    return server(new PeerTrust(tls.trustManager(), (host, port) -> null, false), "messaging");
  }

  private Server server(javax.net.ssl.TrustManager peers, String what) {
    try {
      return new Server(GrpcSslContexts.configure(
              org.apache.ratis.thirdparty.io.netty.handler.ssl.SslContextBuilder.forServer(tls.keyManager()))
          .trustManager(peers)
          .clientAuth(ClientAuth.REQUIRE)
          .build(), tls.trustManager());
    } catch (SSLException e) {
      throw new RosterException("node " + config.nodeId() + " cannot set up TLS for " + what + ": " + e.getMessage(), e);
    }
  }

  /**
   * A server's TLS context and the check of its peers while their connections are in use.
   *
   * <p>A resumed session carries the identity of the handshake that opened it. A node whose
   * certificate was rotated, the old one then revoked, would reconnect into its old session and be
   * refused for good. So the server keeps no session cache, and when it finds a peer trusted no
   * more it replaces its session-ticket keys: every ticket issued so far stops working, and the
   * peer's next connection makes a full handshake with the certificate it holds now. (With the
   * JDK's provider, whose tickets cannot be withdrawn, a session lasts at most a second.)
   */
  public static final class Server {
    private final SslContext context;
    private final javax.net.ssl.X509TrustManager trust;

    Server(SslContext context, javax.net.ssl.X509TrustManager trust) {
      this.context = context;
      this.trust = trust;
      javax.net.ssl.SSLSessionContext sessions = context.sessionContext();
      if (sessions instanceof OpenSslSessionContext openSsl) {
        openSsl.setSessionCacheEnabled(false);
      } else if (sessions != null) {
        sessions.setSessionTimeout(1);
      }
    }

    public SslContext context() {
      return context;
    }

    /** Why the peer of a call's connection is trusted no more, or null ({@link NodeTls#distrust}). */
    public String distrust(Attributes transport) {
      String why = NodeTls.distrust(transport, trust);
      SSLSession session = transport.get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
      // once per distrusted session: its peer's every refused call would otherwise replace the keys
      // again, and send every trusted peer's next connection through a full handshake each time
      if (why != null && session != null && session.getValue(TICKETS_REPLACED) == null
          && context.sessionContext() instanceof OpenSslSessionContext openSsl) {
        session.putValue(TICKETS_REPLACED, Boolean.TRUE);
        byte[][] key = new byte[3][16];
        for (byte[] part : key) {
          RANDOM.nextBytes(part);
        }
        openSsl.setTicketKeys(new OpenSslSessionTicketKey(key[0], key[1], key[2]));
      }
      return why;
    }

    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();
    /** Set on a TLS session once its distrust has replaced the ticket keys. */
    private static final String TICKETS_REPLACED = "io.roster.ticketsReplaced";
  }

  /** A messaging channel's context: the server reached must present the certificate of {@code node}. */
  public SslContext messagingClient(String node) {
    try {
      return GrpcSslContexts.forClient()
          .keyManager(tls.keyManager())
          .trustManager(new PeerTrust(tls.trustManager(), (host, port) -> node, false))
          .build();
    } catch (SSLException e) {
      throw new RosterException("node " + config.nodeId() + " cannot set up TLS toward " + node + ": "
          + e.getMessage(), e);
    }
  }

  /** A connection with no call open for this long is closed (its peer reconnects when it needs to). */
  static final long IDLE_MINUTES = 5;
  /** Request headers a peer may send at most. */
  static final int METADATA_BYTES_MAX = 8 * 1024;

  /**
   * Bounds every server port shares: a handshake (and so a connection that never sends a byte)
   * ends after {@link #HANDSHAKE_MILLIS}, a connection with no call open after {@link #IDLE_MINUTES},
   * headers are small, and one connection opens at most {@code streamsPerConnection} streams.
   */
  public static NettyServerBuilder bounded(NettyServerBuilder b, int streamsPerConnection) {
    return b.handshakeTimeout(HANDSHAKE_MILLIS, TimeUnit.MILLISECONDS)
        .maxConnectionIdle(IDLE_MINUTES, TimeUnit.MINUTES)
        .maxInboundMetadataSize(METADATA_BYTES_MAX)
        .maxConcurrentCallsPerConnection(streamsPerConnection);
  }

  /** How often a connection in use has its peer's chain checked again. */
  static final long RECHECK_NANOS = TimeUnit.SECONDS.toNanos(1);
  /** When a TLS session's peer chain was last found trusted (a value of the session). */
  private static final String CHECKED_AT = "io.roster.peerCheckedAt";

  /**
   * Why the peer of a call's connection is trusted no more (its certificate expired, or a CRL
   * revoked it, or its CA left the trusted set since the handshake), or null if it still is, or
   * on a plaintext connection. The chain is checked again against {@code trust} (the node's current
   * CAs and CRLs, reloaded as their files change) at most once a second per TLS session: a revocation
   * then ends the calls of connections and resumed sessions that were opened before it, at their
   * next request, not only new handshakes.
   */
  public static String distrust(Attributes transport, javax.net.ssl.X509TrustManager trust) {
    SSLSession session = transport.get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (session == null) {
      return null;
    }
    long now = System.nanoTime();
    if (session.getValue(CHECKED_AT) instanceof Long at && now - at < RECHECK_NANOS) {
      return null;
    }
    try {
      Certificate[] certificates = session.getPeerCertificates();
      X509Certificate[] chain = new X509Certificate[certificates.length];
      for (int i = 0; i < chain.length; i++) {
        chain[i] = (X509Certificate) certificates[i];
      }
      trust.checkClientTrusted(chain, chain[0].getPublicKey().getAlgorithm());
      session.putValue(CHECKED_AT, now);
      return null;
    } catch (java.security.cert.CertificateException | SSLPeerUnverifiedException | RuntimeException e) {
      return "its certificate is trusted no more: " + e.getMessage();
    }
  }

  /**
   * The certificate a call's peer presented at the handshake, or null on a plaintext connection
   * (a node started with {@code insecure()}).
   */
  public static X509Certificate peer(Attributes transport) {
    SSLSession session = transport.get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (session == null) {
      return null;
    }
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate x ? x : null;
    } catch (SSLPeerUnverifiedException e) {
      return null;
    }
  }
}
