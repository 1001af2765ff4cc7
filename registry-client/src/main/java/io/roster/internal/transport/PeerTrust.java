package io.roster.internal.transport;

import io.roster.Tls;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.function.BiFunction;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Checks a peer's certificate at the TLS handshake: its chain must lead to a trusted CA (the
 * application's trust manager decides, so its CAs may change at run time) and its subject must name
 * a node id and a role (see {@link Tls}). A server this node connects to must moreover be the node
 * it meant to reach: {@code expectedAt} names the node id that should answer at the peer's host and
 * port. That replaces the HTTPS host-name check: a certificate names a node, not a host, so a node
 * that moves keeps its certificate, and a valid certificate of one node does not let it stand in for
 * another. What an authenticated client may do is decided per request (see {@link RaftAccess}).
 */
final class PeerTrust extends X509ExtendedTrustManager {
  private final X509TrustManager cas;
  /** The node id expected at (host, port), or null if none is. */
  private final BiFunction<String, Integer, String> expectedAt;
  /** Whether a server reached must present a voter certificate (Raft's ports: only voters serve them). */
  private final boolean serverIsVoter;

  /** Whether a node id is one of the configured voters. */
  private final java.util.function.Predicate<String> configured;

  PeerTrust(X509TrustManager cas, BiFunction<String, Integer, String> expectedAt, boolean serverIsVoter) {
    this(cas, expectedAt, serverIsVoter, id -> true);
  }

  /**
   * As above; a Raft server at an address no configured voter has may present the voter certificate
   * of an id that {@code configured} does not know (a voter added since).
   */
  PeerTrust(X509TrustManager cas, BiFunction<String, Integer, String> expectedAt, boolean serverIsVoter,
      java.util.function.Predicate<String> configured) {
    this.configured = configured;
    this.cas = cas;
    this.expectedAt = expectedAt;
    this.serverIsVoter = serverIsVoter;
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    cas.checkClientTrusted(chain, authType);
    identity(chain);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    checkClientTrusted(chain, authType);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    checkClientTrusted(chain, authType);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    throw new CertificateException("a server's certificate is checked against the node expected at its address");
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    checkServer(chain, authType, socket.getInetAddress().getHostAddress(), socket.getPort());
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    checkServer(chain, authType, engine.getPeerHost(), engine.getPeerPort());
  }

  private void checkServer(X509Certificate[] chain, String authType, String host, int port)
      throws CertificateException {
    cas.checkServerTrusted(chain, authType);
    String id = identity(chain);
    String expected = expectedAt.apply(host, port);
    if (expected == null && serverIsVoter && !configured.test(id)) {
      // a voter added since this node was configured (Raft names it, at an address it published): any
      // voter certificate whose id no configured voter holds
      expected = id;
    }
    if (!id.equals(expected)) {
      throw new CertificateException("the server at " + host + ":" + port + " presented the certificate of node '"
          + id + "'; " + (expected == null ? "no node is expected there" : "expected node '" + expected + "'"));
    }
    if (serverIsVoter && Tls.role(chain[0]) != Tls.CertRole.VOTER) {
      throw new CertificateException("the server at " + host + ":" + port + " presented a "
          + Tls.role(chain[0]) + " certificate of node '" + id + "'; a voter's is expected");
    }
  }

  /** The node id of a chain's leaf; refuses a subject without one CN and one OU naming a role. */
  private static String identity(X509Certificate[] chain) throws CertificateException {
    if (chain == null || chain.length == 0) {
      throw new CertificateException("no certificate");
    }
    try {
      Tls.role(chain[0]);
      return Tls.nodeId(chain[0]);
    } catch (IllegalArgumentException e) {
      throw new CertificateException(e.getMessage(), e);
    }
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return cas.getAcceptedIssuers();
  }
}
