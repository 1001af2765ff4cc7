package io.roster.spring.discovery;

import java.net.URI;
import java.util.Map;
import org.springframework.cloud.client.DefaultServiceInstance;
import org.springframework.cloud.client.serviceregistry.Registration;

/**
 * This application's instance: its service id ({@code spring.application.name}), host, port (set
 * once the web server has one), whether it is secure, and metadata.
 */
public class RosterRegistration implements Registration {
  private final String serviceId;
  private final String host;
  private volatile int port;
  private final boolean secure;
  private final Map<String, String> metadata;
  private final String instanceId;

  public RosterRegistration(String serviceId, String instanceId, String host, int port, boolean secure,
      Map<String, String> metadata) {
    this.serviceId = serviceId;
    this.instanceId = instanceId;
    this.host = host;
    this.port = port;
    this.secure = secure;
    this.metadata = Map.copyOf(metadata);
  }

  @Override
  public String getInstanceId() {
    return instanceId;
  }

  @Override
  public String getServiceId() {
    return serviceId;
  }

  @Override
  public String getHost() {
    return host;
  }

  @Override
  public int getPort() {
    return port;
  }

  /** The port, once the web server has one. */
  public void setPort(int port) {
    this.port = port;
  }

  @Override
  public boolean isSecure() {
    return secure;
  }

  @Override
  public URI getUri() {
    return DefaultServiceInstance.getUri(this);
  }

  @Override
  public Map<String, String> getMetadata() {
    return metadata;
  }

  @Override
  public String toString() {
    return serviceId + " " + instanceId + " at " + host + ":" + port;
  }
}
