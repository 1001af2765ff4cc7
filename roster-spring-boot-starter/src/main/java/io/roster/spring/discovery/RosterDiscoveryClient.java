package io.roster.spring.discovery;

import io.roster.Keys;
import io.roster.Registry;
import io.roster.RegistryEntry;
import io.roster.RegistryNode;
import io.roster.ValueCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.cloud.client.ServiceInstance;
import org.springframework.cloud.client.discovery.DiscoveryClient;

/**
 * Spring Cloud's {@link DiscoveryClient} on a Roster registry ({@link RosterServiceRegistry}):
 * read from this node's local mirror, no network hop (once the registry is found: its first use
 * creates it if missing, a write). An instance whose node died is gone once the cluster expired the
 * node's session (its session timeout). A node that is not live (a client node whose session
 * expired: its mirror is no longer fed) lists no instance rather than stale ones. An instance's id
 * is its holding process ({@code service@<node.incarnation.serial>}).
 */
public class RosterDiscoveryClient implements DiscoveryClient {
  private static final Logger LOG = LoggerFactory.getLogger(RosterDiscoveryClient.class);
  /** When a malformed value was last logged (System.nanoTime), so it is logged once a minute at most. */
  private volatile long warnedNanos = System.nanoTime() - 60_000_000_000L;

  private final RegistryNode node;
  private final String registryName;

  public RosterDiscoveryClient(RegistryNode node, String registryName) {
    this.node = node;
    this.registryName = registryName;
  }

  private volatile Registry<byte[]> registry;

  /**
   * The registry, or null while it cannot be had (its creation is a write, which waits for the
   * cluster): found once, then every read is the local mirror's.
   */
  private Registry<byte[]> registry() {
    Registry<byte[]> r = registry;
    if (r == null) {
      try {
        r = node.registry(registryName, Keys.DUPLICATE, ValueCodec.bytes());
        registry = r;
      } catch (RuntimeException notYet) {
        warn("registry '{}' is not available yet ({}): no instances", registryName, notYet.getMessage());
      }
    }
    return r;
  }

  /**
   * Whether this node's mirror can be trusted: a client node whose session expired is no longer
   * fed, and would answer from a frozen past.
   */
  private boolean live() {
    if (node.health().live()) {
      return true;
    }
    warn("Roster node {} is not live ({}): no instances until it is restarted", node.nodeId(),
        node.health().reasons());
    return false;
  }

  @Override
  public String description() {
    return "Roster (registry '" + registryName + "')";
  }

  @Override
  public List<ServiceInstance> getInstances(String serviceId) {
    Registry<byte[]> r = registry();
    if (r == null || !live()) {
      return List.of();
    }
    List<ServiceInstance> out = new ArrayList<>();
    for (RegistryEntry<byte[]> e : r.lookup(serviceId)) {
      ServiceInstance i = decode(serviceId, e);
      if (i != null) {
        out.add(i);
      }
    }
    return out;
  }

  /** The instance of a registration, its id made of the holding process (which no writer can forge), or null. */
  private ServiceInstance decode(String serviceId, RegistryEntry<byte[]> e) {
    try {
      ServiceInstance i = Instances.decode(serviceId, e.value());
      return new org.springframework.cloud.client.DefaultServiceInstance(serviceId + "@" + e.pid(), serviceId,
          i.getHost(), i.getPort(), i.isSecure(), i.getMetadata());
    } catch (IllegalArgumentException bad) {
      warn("registry '{}': the registration of {} by {} is not a service instance ({}); skipped", registryName,
          serviceId, e.pid(), bad.getMessage());
      return null;
    }
  }

  @Override
  public List<String> getServices() {
    Registry<byte[]> r = registry();
    if (r == null || !live()) {
      return List.of();
    }
    return List.copyOf(new TreeSet<>(r.select(e -> decode(e.key(), e) != null, RegistryEntry::key)));
  }

  private void warn(String format, Object... args) {
    long now = System.nanoTime();
    if (now - warnedNanos >= 60_000_000_000L) { // once a minute at most
      warnedNanos = now;
      LOG.warn(format, args);
    }
  }

  @Override
  public int getOrder() {
    return DEFAULT_ORDER;
  }
}
