package io.roster.testkit;

import io.roster.Tls;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;

/**
 * A cluster's certificate authority: an EC P-256 key and a self-signed CA certificate, and the
 * node certificates it issues (subject {@code OU=<role>, CN=<node id>}, the hosts as subject
 * alternative names, for both TLS server and client use). {@code roster cert} and the demo use it;
 * so do the tests, which make their certificates at run time.
 *
 * <p>Files it writes: {@code ca.pem} (the certificate every node trusts), {@code ca-key.pem} (the
 * CA's key: keep it off the nodes), and per node {@code <id>.pem} (certificate then CA) and
 * {@code <id>-key.pem} (unencrypted PKCS#8); keys are written readable by their owner only.
 */
public final class CertificateAuthority {
  public static final String CA_FILE = "ca.pem";
  public static final String CA_KEY_FILE = "ca-key.pem";
  private static final SecureRandom RANDOM = new SecureRandom();

  private final KeyPair key;
  private final X509Certificate certificate;

  private CertificateAuthority(KeyPair key, X509Certificate certificate) {
    this.key = key;
    this.certificate = certificate;
  }

  /** A new CA named {@code name} (its CN), valid from now for {@code validity}. */
  public static CertificateAuthority create(String name, Duration validity) {
    KeyPair key = newKey();
    X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.OU, "roster").addRDN(BCStyle.CN, name)
        .build();
    Instant now = Instant.now();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(), Date.from(now.minusSeconds(60)),
          Date.from(now.plus(validity)), subject, key.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(key.getPublic()));
      return new CertificateAuthority(key, sign(b, key.getPrivate()));
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot make a CA certificate: " + e, e);
    }
  }

  /** The CA saved in {@code dir} by {@link #save}. */
  public static CertificateAuthority load(Path dir) {
    Path certFile = dir.resolve(CA_FILE);
    Path keyFile = dir.resolve(CA_KEY_FILE);
    try (PEMParser certs = new PEMParser(Files.newBufferedReader(certFile, StandardCharsets.US_ASCII));
         PEMParser keys = new PEMParser(Files.newBufferedReader(keyFile, StandardCharsets.US_ASCII))) {
      X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
          (org.bouncycastle.cert.X509CertificateHolder) certs.readObject());
      Object k = keys.readObject();
      if (!(k instanceof org.bouncycastle.asn1.pkcs.PrivateKeyInfo info)) {
        throw new IllegalArgumentException(keyFile + " holds no unencrypted PKCS#8 private key");
      }
      PrivateKey privateKey = KeyFactory.getInstance(cert.getPublicKey().getAlgorithm())
          .generatePrivate(new PKCS8EncodedKeySpec(info.getEncoded()));
      return new CertificateAuthority(new KeyPair(cert.getPublicKey(), privateKey), cert);
    } catch (IOException | GeneralSecurityException | ClassCastException | NullPointerException e) {
      throw new IllegalArgumentException("cannot read the CA in " + dir + " (" + CA_FILE + ", " + CA_KEY_FILE + "): "
          + e, e);
    }
  }

  /** Writes {@code ca.pem} and {@code ca-key.pem} into {@code dir} (created if missing). */
  public void save(Path dir) {
    writePem(dir.resolve(CA_FILE), pem(certificate), false);
    writePem(dir.resolve(CA_KEY_FILE), pem(key.getPrivate()), true);
  }

  public X509Certificate certificate() {
    return certificate;
  }

  /** A node certificate valid from now for {@code validity}. */
  public Issued issue(String nodeId, Tls.CertRole role, List<String> hosts, Duration validity) {
    Instant now = Instant.now();
    return issue(nodeId, role, hosts, now.minusSeconds(60), now.plus(validity));
  }

  /**
   * A node certificate valid from {@code notBefore} to {@code notAfter} (both may lie in the past,
   * for tests of expiry), for the given hosts (IP literals or DNS names; may be empty).
   */
  public Issued issue(String nodeId, Tls.CertRole role, List<String> hosts, Instant notBefore, Instant notAfter) {
    if (nodeId == null || nodeId.isEmpty() || nodeId.length() > 128) {
      throw new IllegalArgumentException("node id must be 1..128 characters");
    }
    KeyPair nodeKey = newKey();
    X500Name subject = new X500NameBuilder(BCStyle.INSTANCE)
        .addRDN(BCStyle.OU, role.name().toLowerCase(Locale.ROOT)).addRDN(BCStyle.CN, nodeId).build();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(certificate, serial(), Date.from(notBefore),
          Date.from(notAfter), subject, nodeKey.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement))
          .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
              new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(nodeKey.getPublic()))
          .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
      if (!hosts.isEmpty()) {
        List<GeneralName> names = new ArrayList<>();
        for (String host : hosts) {
          names.add(isIpLiteral(host) ? new GeneralName(GeneralName.iPAddress, host)
              : new GeneralName(GeneralName.dNSName, host));
        }
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(new GeneralName[0])));
      }
      return new Issued(nodeId, sign(b, key.getPrivate()), nodeKey.getPrivate(), certificate);
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot issue a certificate for " + nodeId + ": " + e, e);
    }
  }

  /**
   * Writes the CA's certificate revocation list to {@code file} (PEM): the certificates it names
   * are refused by every node that reads the list ({@code Tls.pem} with a list reloads it when it
   * changes). Valid for {@code validity}; write it again before then.
   */
  public void writeRevocations(Path file, List<X509Certificate> revoked, Duration validity) {
    Instant now = Instant.now();
    try {
      org.bouncycastle.cert.X509v2CRLBuilder b = new org.bouncycastle.cert.jcajce.JcaX509v2CRLBuilder(certificate,
          Date.from(now.minusSeconds(60)));
      b.setNextUpdate(Date.from(now.plus(validity)));
      for (X509Certificate c : revoked) {
        b.addCRLEntry(c.getSerialNumber(), Date.from(now), org.bouncycastle.asn1.x509.CRLReason.keyCompromise);
      }
      b.addExtension(Extension.authorityKeyIdentifier, false,
          new JcaX509ExtensionUtils().createAuthorityKeyIdentifier(certificate));
      java.security.cert.X509CRL crl = new org.bouncycastle.cert.jcajce.JcaX509CRLConverter().getCRL(
          b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate())));
      writePem(file, pem(crl), false);
    } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException("cannot write a revocation list: " + e, e);
    }
  }

  /** An issued node certificate with its key. */
  public record Issued(String nodeId, X509Certificate certificate, PrivateKey privateKey, X509Certificate ca) {
    /** Writes {@code <id>.pem} (certificate, then the CA) and {@code <id>-key.pem} into {@code dir}. */
    public void save(Path dir) {
      writePem(certFile(dir), pem(certificate) + pem(ca), false);
      writePem(keyFile(dir), pem(privateKey), true);
    }

    public Path certFile(Path dir) {
      return dir.resolve(nodeId + ".pem");
    }

    public Path keyFile(Path dir) {
      return dir.resolve(nodeId + "-key.pem");
    }

    /** Saves this certificate into {@code dir} (beside the CA's {@code ca.pem}) and reads it back as {@link Tls}. */
    public Tls tls(Path dir) {
      save(dir);
      Path caFile = dir.resolve(CA_FILE);
      if (!Files.exists(caFile)) {
        writePem(caFile, pem(ca), false);
      }
      return Tls.pem(certFile(dir), keyFile(dir), caFile);
    }
  }

  private static boolean isIpLiteral(String host) {
    if (!host.matches("[0-9.]+|[0-9A-Fa-f:]+")) {
      return false;
    }
    try {
      InetAddress.getByName(host); // a literal: no lookup
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer) throws GeneralSecurityException {
    try {
      return new JcaX509CertificateConverter().getCertificate(
          b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException(e);
    }
  }

  private static KeyPair newKey() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK cannot make EC P-256 keys: " + e, e);
    }
  }

  private static BigInteger serial() {
    return new BigInteger(127, RANDOM).add(BigInteger.ONE);
  }

  private static String pem(Object o) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      if (o instanceof PrivateKey k) {
        PemObject p = new JcaPKCS8Generator(k, null).generate();
        w.writeObject(p);
      } else {
        w.writeObject(o);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  /** Writes {@code file} whole or not at all (a node reading it meanwhile sees the old or the new one). */
  private static void writePem(Path file, String text, boolean secret) {
    try {
      Path dir = file.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Path temp = file.getFileSystem().supportedFileAttributeViews().contains("posix")
          ? Files.createTempFile(dir, ".pem-", ".tmp", PosixFilePermissions.asFileAttribute(
              PosixFilePermissions.fromString(secret ? "rw-------" : "rw-r--r--")))
          : Files.createTempFile(dir, ".pem-", ".tmp");
      Files.writeString(temp, text, StandardCharsets.US_ASCII);
      Files.move(temp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }
}
