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
 * read from this node's local mirror, no network hop. An instance whose node died is gone once the
 * cluster expired the node's session (its session timeout).
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

  private Registry<byte[]> registry() {
    return node.registry(registryName, Keys.DUPLICATE, ValueCodec.bytes());
  }

  @Override
  public String description() {
    return "Roster (registry '" + registryName + "')";
  }

  @Override
  public List<ServiceInstance> getInstances(String serviceId) {
    List<ServiceInstance> out = new ArrayList<>();
    for (RegistryEntry<byte[]> e : registry().lookup(serviceId)) {
      try {
        out.add(Instances.decode(serviceId, e.value()));
      } catch (IllegalArgumentException bad) {
        long now = System.nanoTime();
        if (now - warnedNanos >= 60_000_000_000L) {
          warnedNanos = now;
          LOG.warn("registry '{}': the registration of {} by {} is not a service instance ({}); skipped",
              registryName, serviceId, e.pid(), bad.getMessage());
        }
      }
    }
    return out;
  }

  @Override
  public List<String> getServices() {
    return List.copyOf(new TreeSet<>(registry().select(e -> true, RegistryEntry::key)));
  }

  @Override
  public int getOrder() {
    return DEFAULT_ORDER;
  }
}
