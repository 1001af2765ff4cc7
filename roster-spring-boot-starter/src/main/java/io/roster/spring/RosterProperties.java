package io.roster.spring;

import io.roster.Role;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The {@code roster.*} properties: the node this application runs ({@link io.roster.RegistryNode}).
 *
 * <pre>
 * roster.node-id=orders-1
 * roster.voters.n1=10.0.0.1:7001
 * roster.voters.n2=10.0.0.2:7001
 * roster.voters.n3=10.0.0.3:7001
 * roster.tls.cert=/etc/roster/orders-1.pem
 * roster.tls.key=/etc/roster/orders-1-key.pem
 * roster.tls.ca=/etc/roster/ca.pem
 * </pre>
 */
@ConfigurationProperties("roster")
public class RosterProperties {
  /** Whether to start a Roster node in this application. */
  private boolean enabled = true;

  /** This node's id, unique in the cluster (the CN of its certificate). */
  private String nodeId;

  /** The cluster's voters, id to host:port, the same on every node. */
  private Map<String, String> voters = new LinkedHashMap<>();

  /** CLIENT (a service JVM: no replica, a mirror fed by a voter) or VOTER (a Raft member, which needs data-dir). */
  private Role role = Role.CLIENT;

  /** The cluster's name. */
  private String cluster = "roster";

  /** A voter's data directory. */
  private Path dataDir;

  /** A voter's Raft address (host:port); by default its entry in roster.voters. */
  private String listenAddress;

  /** Where this node's processes receive messages (host:port, port 0 for any); by default a free port. */
  private String messageAddress;

  /** How long the cluster waits without a heartbeat before it ends this node's session and its names go (1s..60s). */
  private Duration sessionTimeout = Duration.ofSeconds(5);

  /** How long a write or a linearizable read waits at most. */
  private Duration requestTimeout;

  /** A voter joining a running cluster, to be added by roster members add (an empty data directory). */
  private boolean join;

  /** Run without TLS: anyone who reaches the node's ports can act as any node. Only for a closed network. */
  private boolean insecure;

  private final Tls tls = new Tls();

  private final Discovery discovery = new Discovery();

  /** Mutual TLS from PEM files (roster cert makes them); every file is read again when it changes. */
  public static class Tls {
    /** This node's certificate chain (PEM; CN = its id, OU = client or voter). */
    private Path cert;

    /** Its private key (PEM, unencrypted PKCS#8). */
    private Path key;

    /** The cluster's CA certificate(s) (PEM). */
    private Path ca;

    /** The CA's revocation list (PEM), optional. */
    private Path crl;

    public Path getCert() {
      return cert;
    }

    public void setCert(Path cert) {
      this.cert = cert;
    }

    public Path getKey() {
      return key;
    }

    public void setKey(Path key) {
      this.key = key;
    }

    public Path getCa() {
      return ca;
    }

    public void setCa(Path ca) {
      this.ca = ca;
    }

    public Path getCrl() {
      return crl;
    }

    public void setCrl(Path crl) {
      this.crl = crl;
    }
  }

  /** Spring Cloud discovery on a Roster registry. */
  public static class Discovery {
    /** Whether to offer Spring Cloud's DiscoveryClient and ServiceRegistry on Roster (with spring-cloud-commons). */
    private boolean enabled = true;

    /** The registry (duplicate keys) holding service instances: key = service id, one registration per instance. */
    private String registry = "spring-services";

    /** The host this instance is reached at; by default the local host's address. */
    private String host;

    /** Whether this instance is reached over HTTPS. */
    private boolean secure;

    /** Metadata published with this instance (at most a few KiB in all). */
    private Map<String, String> metadata = new LinkedHashMap<>();

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    public String getRegistry() {
      return registry;
    }

    public void setRegistry(String registry) {
      this.registry = registry;
    }

    public String getHost() {
      return host;
    }

    public void setHost(String host) {
      this.host = host;
    }

    public boolean isSecure() {
      return secure;
    }

    public void setSecure(boolean secure) {
      this.secure = secure;
    }

    public Map<String, String> getMetadata() {
      return metadata;
    }

    public void setMetadata(Map<String, String> metadata) {
      this.metadata = metadata;
    }
  }

  public boolean isEnabled() {
    return enabled;
  }

  public void setEnabled(boolean enabled) {
    this.enabled = enabled;
  }

  public String getNodeId() {
    return nodeId;
  }

  public void setNodeId(String nodeId) {
    this.nodeId = nodeId;
  }

  public Map<String, String> getVoters() {
    return voters;
  }

  public void setVoters(Map<String, String> voters) {
    this.voters = voters;
  }

  public Role getRole() {
    return role;
  }

  public void setRole(Role role) {
    this.role = role;
  }

  public String getCluster() {
    return cluster;
  }

  public void setCluster(String cluster) {
    this.cluster = cluster;
  }

  public Path getDataDir() {
    return dataDir;
  }

  public void setDataDir(Path dataDir) {
    this.dataDir = dataDir;
  }

  public String getListenAddress() {
    return listenAddress;
  }

  public void setListenAddress(String listenAddress) {
    this.listenAddress = listenAddress;
  }

  public String getMessageAddress() {
    return messageAddress;
  }

  public void setMessageAddress(String messageAddress) {
    this.messageAddress = messageAddress;
  }

  public Duration getSessionTimeout() {
    return sessionTimeout;
  }

  public void setSessionTimeout(Duration sessionTimeout) {
    this.sessionTimeout = sessionTimeout;
  }

  public Duration getRequestTimeout() {
    return requestTimeout;
  }

  public void setRequestTimeout(Duration requestTimeout) {
    this.requestTimeout = requestTimeout;
  }

  public boolean isJoin() {
    return join;
  }

  public void setJoin(boolean join) {
    this.join = join;
  }

  public boolean isInsecure() {
    return insecure;
  }

  public void setInsecure(boolean insecure) {
    this.insecure = insecure;
  }

  public Tls getTls() {
    return tls;
  }

  public Discovery getDiscovery() {
    return discovery;
  }
}
