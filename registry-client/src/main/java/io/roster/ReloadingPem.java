package io.roster;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PEM files behind a key manager and a trust manager that read them again when they change:
 * every handshake asks {@link #current()}, which looks at the files' modification times at most
 * once a second and loads them anew when one changed. A set that does not load (a file half
 * written, a key that does not match its certificate) is logged once and the previous set kept,
 * until the files change again.
 */
final class ReloadingPem {
  private static final Logger LOG = LoggerFactory.getLogger(Tls.class);
  private static final long CHECK_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final Path chain;
  private final Path key;
  private final Path cas;
  private final Path crl;
  private volatile Tls loaded;
  /**
   * The loaded sets by generation, the current and the one before: an alias handed out names its
   * generation, so that a handshake gets the certificate and the key of one set even if the files
   * are reloaded between its calls.
   */
  private final java.util.Map<Long, Tls> generations = new java.util.concurrent.ConcurrentHashMap<>();
  private volatile long generation;
  private volatile List<FileTime> stamps;
  private volatile long checkedAtNanos;

  ReloadingPem(Path chain, Path key, Path cas, Path crl) {
    this.chain = chain;
    this.key = key;
    this.cas = cas;
    this.crl = crl;
    this.stamps = stamps(); // first: a file changed while loading is loaded again
    this.loaded = Tls.load(chain, key, cas, crl); // throws: a node does not start on bad files
    generations.put(0L, loaded);
    this.checkedAtNanos = System.nanoTime();
  }

  private List<FileTime> stamps() {
    List<FileTime> out = new ArrayList<>(4);
    for (Path p : crl == null ? List.of(chain, key, cas) : List.of(chain, key, cas, crl)) {
      try {
        out.add(Files.getLastModifiedTime(p));
      } catch (IOException e) {
        out.add(null); // gone for now: keep what is loaded
      }
    }
    return out;
  }

  /** The managers of the files as they are now (checked at most once a second). */
  Tls current() {
    long now = System.nanoTime();
    if (now - checkedAtNanos < CHECK_NANOS) {
      return loaded;
    }
    synchronized (this) {
      if (now - checkedAtNanos < CHECK_NANOS) {
        return loaded;
      }
      checkedAtNanos = now;
      List<FileTime> seen = stamps();
      if (!seen.equals(stamps) && !seen.contains(null)) {
        stamps = seen;
        try {
          Tls fresh = Tls.load(chain, key, cas, crl);
          generations.put(generation + 1, fresh);
          generations.remove(generation - 1);
          loaded = fresh;
          generation++;
          LOG.info("TLS files reloaded: {}, {}, {}{}", chain, key, cas, crl == null ? "" : ", " + crl);
        } catch (IllegalArgumentException e) {
          LOG.warn("TLS files changed but do not load; keeping the previous ones: {}", e.getMessage());
        }
      }
      return loaded;
    }
  }

  X509ExtendedKeyManager keyManager() {
    return new X509ExtendedKeyManager() {
      /** The alias of the current set, prefixed with its generation. */
      private String tag(java.util.function.Function<X509ExtendedKeyManager, String> choose) {
        Tls set = current();
        long g = generation;
        Tls tagged = generations.getOrDefault(g, set);
        String alias = choose.apply(tagged.keyManager());
        return alias == null ? null : g + ":" + alias;
      }

      private String[] tagAll(java.util.function.Function<X509ExtendedKeyManager, String[]> list) {
        long g = generation;
        String[] aliases = list.apply(generations.getOrDefault(g, loaded).keyManager());
        if (aliases == null) {
          return null;
        }
        String[] out = new String[aliases.length];
        for (int i = 0; i < aliases.length; i++) {
          out[i] = g + ":" + aliases[i];
        }
        return out;
      }

      /** The set and the inner alias an alias names; null if its set is gone. */
      private java.util.Map.Entry<X509ExtendedKeyManager, String> untag(String alias) {
        int colon = alias == null ? -1 : alias.indexOf(':');
        if (colon < 0) {
          return null;
        }
        Tls set = generations.get(Long.parseLong(alias.substring(0, colon)));
        return set == null ? null : java.util.Map.entry(set.keyManager(), alias.substring(colon + 1));
      }

      @Override
      public String[] getClientAliases(String keyType, Principal[] issuers) {
        return tagAll(k -> k.getClientAliases(keyType, issuers));
      }

      @Override
      public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return tag(k -> k.chooseClientAlias(keyType, issuers, socket));
      }

      @Override
      public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
        return tag(k -> k.chooseEngineClientAlias(keyType, issuers, engine));
      }

      @Override
      public String[] getServerAliases(String keyType, Principal[] issuers) {
        return tagAll(k -> k.getServerAliases(keyType, issuers));
      }

      @Override
      public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return tag(k -> k.chooseServerAlias(keyType, issuers, socket));
      }

      @Override
      public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return tag(k -> k.chooseEngineServerAlias(keyType, issuers, engine));
      }

      @Override
      public X509Certificate[] getCertificateChain(String alias) {
        var e = untag(alias);
        return e == null ? null : e.getKey().getCertificateChain(e.getValue());
      }

      @Override
      public PrivateKey getPrivateKey(String alias) {
        var e = untag(alias);
        return e == null ? null : e.getKey().getPrivateKey(e.getValue());
      }
    };
  }

  X509TrustManager trustManager() {
    return new X509ExtendedTrustManager() {
      private X509TrustManager trust() {
        return current().trustManager();
      }

      @Override
      public void checkClientTrusted(X509Certificate[] c, String authType) throws CertificateException {
        trust().checkClientTrusted(c, authType);
      }

      @Override
      public void checkServerTrusted(X509Certificate[] c, String authType) throws CertificateException {
        trust().checkServerTrusted(c, authType);
      }

      @Override
      public void checkClientTrusted(X509Certificate[] c, String authType, Socket socket) throws CertificateException {
        trust().checkClientTrusted(c, authType);
      }

      @Override
      public void checkServerTrusted(X509Certificate[] c, String authType, Socket socket) throws CertificateException {
        trust().checkServerTrusted(c, authType);
      }

      @Override
      public void checkClientTrusted(X509Certificate[] c, String authType, SSLEngine engine)
          throws CertificateException {
        trust().checkClientTrusted(c, authType);
      }

      @Override
      public void checkServerTrusted(X509Certificate[] c, String authType, SSLEngine engine)
          throws CertificateException {
        trust().checkServerTrusted(c, authType);
      }

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return trust().getAcceptedIssuers();
      }
    };
  }
}
