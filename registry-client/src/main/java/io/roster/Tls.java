package io.roster;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509TrustManager;

/**
 * A node's TLS identity and the cluster's certificate authority: every port of a node (Raft
 * server, client and admin, and messaging) speaks mutual TLS with it.
 *
 * <p>A node's identity is its certificate: the subject's common name (CN) is the node id, and the
 * organizational unit (OU) its role, {@code voter}, {@code client} or {@code admin}. Peers accept
 * only certificates that chain to the trusted CAs; what an identity may do is decided per request
 * (see the README's trust model). {@code roster cert} makes such a CA and such certificates.
 *
 * <p>Two forms: PEM files, read once when the node starts, or a {@link X509ExtendedKeyManager} and
 * an {@link X509TrustManager} of the application's, asked at every handshake, so that an
 * application that swaps the certificate inside its managers rotates it without a restart.
 *
 * <p>Immutable and thread-safe.
 */
public final class Tls {
  /** The roles a certificate's OU may name. */
  public enum CertRole {
    /** A Raft peer of the cluster. */
    VOTER,
    /** A client node: registers, reads, streams the state; no Raft or admin operation. */
    CLIENT,
    /** An operator's tool: admin operations (membership, snapshots, registry creation). */
    ADMIN
  }

  private final X509ExtendedKeyManager keys;
  private final X509TrustManager trust;

  private Tls(X509ExtendedKeyManager keys, X509TrustManager trust) {
    this.keys = keys;
    this.trust = trust;
  }

  /**
   * TLS from PEM files: the node's certificate (with its chain, leaf first), its unencrypted PKCS#8
   * private key ({@code BEGIN PRIVATE KEY}, RSA or EC) and the bundle of CA certificates to trust.
   * The files are read now, and again at a handshake when one of them has changed (checked at most
   * once a second): replacing them rotates the certificate, key or CAs without a restart. Files
   * that do not load (half written, mismatched) are logged and the previous ones kept.
   *
   * @throws IllegalArgumentException if a file is missing, unreadable or not what it should be (the
   *     message names the file)
   */
  public static Tls pem(Path certificateChain, Path privateKey, Path trustedCas) {
    return pem(certificateChain, privateKey, trustedCas, null);
  }

  /**
   * {@link #pem(Path, Path, Path)} that also refuses the certificates that a CA's certificate
   * revocation list ({@code revocations}, PEM {@code X509 CRL} blocks, reloaded like the others)
   * revokes. With a list, a peer's chain must be covered by a list of its CA.
   */
  public static Tls pem(Path certificateChain, Path privateKey, Path trustedCas, Path revocations) {
    Objects.requireNonNull(certificateChain, "certificateChain");
    Objects.requireNonNull(privateKey, "privateKey");
    Objects.requireNonNull(trustedCas, "trustedCas");
    ReloadingPem files = new ReloadingPem(certificateChain, privateKey, trustedCas, revocations);
    return new Tls(files.keyManager(), files.trustManager());
  }

  /** Reads the PEM files once: a key manager and a trust manager (PKIX, with the CRLs if given). */
  static Tls load(Path certificateChain, Path privateKey, Path trustedCas, Path revocations) {
    List<X509Certificate> chain = certificates(certificateChain);
    PrivateKey key = privateKey(privateKey);
    List<X509Certificate> cas = certificates(trustedCas);
    List<java.security.cert.X509CRL> crls = revocations == null ? List.of() : revocationLists(revocations);
    requireMatch(key, chain.get(0), privateKey, certificateChain);
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry("node", key, new char[0], chain.toArray(new Certificate[0]));
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, new char[0]);
      KeyStore ts = KeyStore.getInstance("PKCS12");
      ts.load(null, null);
      for (int i = 0; i < cas.size(); i++) {
        ts.setCertificateEntry("ca" + i, cas.get(i));
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      if (revocations == null) {
        tmf.init(ts);
      } else {
        java.security.cert.PKIXBuilderParameters pkix = new java.security.cert.PKIXBuilderParameters(ts,
            new java.security.cert.X509CertSelector());
        pkix.addCertStore(java.security.cert.CertStore.getInstance("Collection",
            new java.security.cert.CollectionCertStoreParameters(crls)));
        pkix.setRevocationEnabled(true);
        tmf.init(new javax.net.ssl.CertPathTrustManagerParameters(pkix));
      }
      return managers(only(kmf.getKeyManagers(), X509ExtendedKeyManager.class),
          only(tmf.getTrustManagers(), X509TrustManager.class));
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalArgumentException("the key in " + privateKey + " does not go with the certificate in "
          + certificateChain + ", or a CA in " + trustedCas + " is unusable: " + e.getMessage(), e);
    }
  }

  /**
   * TLS from the application's managers, asked at every handshake: a key manager whose
   * certificate changes, or a trust manager whose CAs change, rotates them without a restart.
   */
  public static Tls managers(X509ExtendedKeyManager keys, X509TrustManager trust) {
    return new Tls(Objects.requireNonNull(keys, "keys"), Objects.requireNonNull(trust, "trust"));
  }

  /** The key manager handshakes use. */
  public X509ExtendedKeyManager keyManager() {
    return keys;
  }

  /** The trust manager that checks a peer's chain. */
  public X509TrustManager trustManager() {
    return trust;
  }

  /**
   * The node id a certificate names (its subject's CN).
   *
   * @throws IllegalArgumentException if the subject has no single CN
   */
  public static String nodeId(X509Certificate certificate) {
    return single(certificate, "CN");
  }

  /**
   * The role a certificate names (its subject's OU).
   *
   * @throws IllegalArgumentException if the subject has no single OU naming a role
   */
  public static CertRole role(X509Certificate certificate) {
    String ou = single(certificate, "OU");
    try {
      return CertRole.valueOf(ou.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("certificate of " + certificate.getSubjectX500Principal().getName()
          + " names role '" + ou + "'; expected voter, client or admin", e);
    }
  }

  private static String single(X509Certificate certificate, String type) {
    String subject = certificate.getSubjectX500Principal().getName();
    List<String> values = new ArrayList<>(1);
    try {
      for (Rdn rdn : new LdapName(subject).getRdns()) {
        if (rdn.getType().equalsIgnoreCase(type)) {
          values.add(String.valueOf(rdn.getValue()));
        }
      }
    } catch (InvalidNameException e) {
      throw new IllegalArgumentException("certificate subject '" + subject + "' does not parse", e);
    }
    if (values.size() != 1) {
      throw new IllegalArgumentException("certificate subject '" + subject + "' has " + values.size() + " " + type
          + " (one expected)");
    }
    return values.get(0);
  }

  private static final Pattern PEM = Pattern.compile(
      "-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\r\\n\\s]+)-----END \\1-----");

  private static List<X509Certificate> certificates(Path file) {
    String text = read(file);
    List<X509Certificate> out = new ArrayList<>();
    try {
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      Matcher m = PEM.matcher(text);
      while (m.find()) {
        if (m.group(1).equals("CERTIFICATE")) {
          out.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(decode(m.group(2), file))));
        }
      }
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(file + " holds a certificate that does not parse: " + e.getMessage(), e);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(file + " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }
    return out;
  }

  /** Refuses a key that is not the certificate's (a pair replaced one file at a time, say). */
  private static void requireMatch(PrivateKey key, X509Certificate certificate, Path keyFile, Path certificateFile) {
    String algorithm = switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      default -> key.getAlgorithm();
    };
    try {
      byte[] probe = "roster key check".getBytes(StandardCharsets.US_ASCII);
      java.security.Signature signer = java.security.Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(probe);
      byte[] signature = signer.sign();
      signer.initVerify(certificate.getPublicKey());
      signer.update(probe);
      if (signer.verify(signature)) {
        return;
      }
    } catch (GeneralSecurityException e) {
      // not a pair: said below
    }
    throw new IllegalArgumentException("the key in " + keyFile + " is not the key of the certificate in "
        + certificateFile);
  }

  private static List<java.security.cert.X509CRL> revocationLists(Path file) {
    String text = read(file);
    List<java.security.cert.X509CRL> out = new ArrayList<>();
    try {
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      Matcher m = PEM.matcher(text);
      while (m.find()) {
        if (m.group(1).equals("X509 CRL")) {
          out.add((java.security.cert.X509CRL) cf.generateCRL(new ByteArrayInputStream(decode(m.group(2), file))));
        }
      }
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(file + " holds a revocation list that does not parse: " + e.getMessage(), e);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(file + " holds no PEM revocation list (-----BEGIN X509 CRL-----)");
    }
    return out;
  }

  private static PrivateKey privateKey(Path file) {
    Matcher m = PEM.matcher(read(file));
    while (m.find()) {
      if (m.group(1).equals("PRIVATE KEY")) {
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(decode(m.group(2), file));
        for (String algorithm : List.of("EC", "RSA", "Ed25519")) {
          try {
            return KeyFactory.getInstance(algorithm).generatePrivate(spec);
          } catch (GeneralSecurityException tryNext) {
            // not this algorithm
          }
        }
        throw new IllegalArgumentException(file + " holds a private key that is neither EC, RSA nor Ed25519");
      }
      if (m.group(1).endsWith("PRIVATE KEY")) {
        throw new IllegalArgumentException(file + " holds a '" + m.group(1) + "': give the key as unencrypted "
            + "PKCS#8 (-----BEGIN PRIVATE KEY-----), e.g. openssl pkcs8 -topk8 -nocrypt");
      }
    }
    throw new IllegalArgumentException(file + " holds no PEM private key (-----BEGIN PRIVATE KEY-----)");
  }

  private static byte[] decode(String base64, Path file) {
    try {
      return Base64.getMimeDecoder().decode(base64.getBytes(StandardCharsets.US_ASCII));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + " holds a PEM block that is not base64", e);
    }
  }

  private static String read(Path file) {
    try {
      if (Files.size(file) > 1 << 20) {
        throw new IllegalArgumentException(file + " is larger than 1 MiB: not a PEM file of certificates or a key");
      }
      return Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + file + ": " + e, e);
    }
  }

  private static <T> T only(Object[] managers, Class<T> type) {
    for (Object m : managers) {
      if (type.isInstance(m)) {
        return type.cast(m);
      }
    }
    throw new IllegalStateException("the JDK offers no " + type.getSimpleName());
  }

  @Override
  public String toString() {
    return "Tls[" + keys.getClass().getSimpleName() + ", " + trust.getClass().getSimpleName() + "]";
  }
}
