package io.roster.server;

import io.roster.testkit.CertificateAuthority;
import io.roster.Tls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code roster cert}: a cluster CA and the certificates of its nodes and admins. */
@Command(name = "cert", mixinStandardHelpOptions = true,
    description = "Makes a cluster's CA and certificates for its nodes and admins (EC P-256, PEM).",
    subcommands = {CertCommand.Ca.class, CertCommand.Issue.class, CertCommand.Revoke.class})
final class CertCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(name = "ca", mixinStandardHelpOptions = true,
      description = "Creates a CA in DIR: ca.pem (give it to every node) and ca-key.pem (keep it off the nodes).")
  static final class Ca implements Callable<Integer> {
    @Option(names = "--dir", required = true, paramLabel = "DIR", description = "Where to write the CA.")
    Path dir;

    @Option(names = "--name", defaultValue = "roster cluster CA", description = "The CA's name (default: ${DEFAULT-VALUE}).")
    String name;

    @Option(names = "--days", defaultValue = "3650", description = "Validity in days (default: ${DEFAULT-VALUE}).")
    int days;

    @Override
    public Integer call() {
      if (Files.exists(dir.resolve(CertificateAuthority.CA_KEY_FILE))) {
        System.err.println("roster cert ca: " + dir.resolve(CertificateAuthority.CA_KEY_FILE)
            + " exists; a new CA would orphan every certificate it issued. Remove it first to replace the CA.");
        return 2;
      }
      if (days < 1) {
        System.err.println("roster cert ca: --days must be at least 1");
        return 2;
      }
      CertificateAuthority.create(name, Duration.ofDays(days)).save(dir);
      System.out.println("CA written: " + dir.resolve(CertificateAuthority.CA_FILE) + " and "
          + dir.resolve(CertificateAuthority.CA_KEY_FILE));
      return 0;
    }
  }

  @Command(name = "issue", mixinStandardHelpOptions = true,
      description = "Issues a certificate from the CA in --ca-dir: OUT/<id>.pem (certificate and CA) and "
          + "OUT/<id>-key.pem.")
  static final class Issue implements Callable<Integer> {
    @Option(names = "--ca-dir", required = true, paramLabel = "DIR", description = "The CA made by 'roster cert ca'.")
    Path caDir;

    @Option(names = "--id", required = true, description = "The node's id (the certificate's CN).")
    String id;

    @Option(names = "--role", required = true, description = "voter, client or admin (the certificate's OU).")
    String role;

    @Option(names = "--host", paramLabel = "HOST",
        description = "A host name or IP address the node is reached at (repeatable; written as subject alternative "
            + "names).")
    List<String> hosts = new ArrayList<>();

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where to write the files.")
    Path out;

    @Option(names = "--days", defaultValue = "365", description = "Validity in days (default: ${DEFAULT-VALUE}).")
    int days;

    @Override
    public Integer call() {
      Tls.CertRole r;
      try {
        r = Tls.CertRole.valueOf(role.toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        System.err.println("roster cert issue: --role must be voter, client or admin, was '" + role + "'");
        return 2;
      }
      if (days < 1) {
        System.err.println("roster cert issue: --days must be at least 1");
        return 2;
      }
      CertificateAuthority ca;
      try {
        ca = CertificateAuthority.load(caDir);
        CertificateAuthority.Issued issued = ca.issue(id, r, hosts, Duration.ofDays(days));
        issued.save(out);
        System.out.println("certificate for " + id + " (" + role + ") written: " + issued.certFile(out) + " and "
            + issued.keyFile(out));
      } catch (IllegalArgumentException e) {
        System.err.println("roster cert issue: " + e.getMessage());
        return 2;
      }
      return 0;
    }
  }

  @Command(name = "revoke", mixinStandardHelpOptions = true,
      description = "Revokes certificates of the CA in --ca-dir and (re)writes its revocation list, DIR/crl.pem, "
          + "which nodes given --tls-crl read again when it changes. Without --cert it only signs the list anew "
          + "(do so before it expires).")
  static final class Revoke implements Callable<Integer> {
    @Option(names = "--ca-dir", required = true, paramLabel = "DIR", description = "The CA made by 'roster cert ca'.")
    Path caDir;

    @Option(names = "--cert", paramLabel = "FILE", description = "A certificate to revoke (PEM; repeatable).")
    List<Path> certs = new ArrayList<>();

    @Option(names = "--days", defaultValue = "30", description = "The list's validity in days (default: ${DEFAULT-VALUE}).")
    int days;

    @Override
    public Integer call() {
      if (days < 1) {
        System.err.println("roster cert revoke: --days must be at least 1");
        return 2;
      }
      try {
        CertificateAuthority ca = CertificateAuthority.load(caDir);
        Path revokedDir = caDir.resolve("revoked");
        java.nio.file.Files.createDirectories(revokedDir);
        java.security.cert.CertificateFactory cf = java.security.cert.CertificateFactory.getInstance("X.509");
        for (Path cert : certs) {
          java.security.cert.X509Certificate c;
          try (var in = java.nio.file.Files.newInputStream(cert)) {
            c = (java.security.cert.X509Certificate) cf.generateCertificate(in);
          }
          if (!c.getIssuerX500Principal().equals(ca.certificate().getSubjectX500Principal())) {
            System.err.println("roster cert revoke: " + cert + " was not issued by the CA in " + caDir);
            return 2;
          }
          java.nio.file.Files.copy(cert, revokedDir.resolve(c.getSerialNumber().toString(16) + ".pem"),
              java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        List<java.security.cert.X509Certificate> revoked = new ArrayList<>();
        try (var files = java.nio.file.Files.list(revokedDir)) {
          for (Path f : files.sorted().toList()) {
            try (var in = java.nio.file.Files.newInputStream(f)) {
              revoked.add((java.security.cert.X509Certificate) cf.generateCertificate(in));
            }
          }
        }
        ca.writeRevocations(caDir.resolve("crl.pem"), revoked, Duration.ofDays(days));
        System.out.println("revocation list written: " + caDir.resolve("crl.pem") + " (" + revoked.size()
            + " revoked)");
        return 0;
      } catch (IllegalArgumentException | java.io.IOException | java.security.GeneralSecurityException e) {
        System.err.println("roster cert revoke: " + e.getMessage());
        return 2;
      }
    }
  }
}
