package io.roster.spring.discovery;

import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Registry;
import io.roster.RegistryNode;
import io.roster.ValueCodec;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.cloud.client.serviceregistry.ServiceRegistry;

/**
 * Spring Cloud's {@link ServiceRegistry} on a Roster registry of duplicate keys: an instance is a
 * registration of its service id, held by a process of this application's node, its value the
 * instance ({@link Instances}). It goes when the instance is deregistered, when the context closes,
 * and when the JVM dies: the cluster ends the node's session after its timeout and removes its
 * names, so no stale instance outlives its process.
 */
public class RosterServiceRegistry implements ServiceRegistry<RosterRegistration> {
  private static final Logger LOG = LoggerFactory.getLogger(RosterServiceRegistry.class);

  private final RegistryNode node;
  private final String registryName;
  private final Map<String, LocalProcess> holders = new ConcurrentHashMap<>();

  public RosterServiceRegistry(RegistryNode node, String registryName) {
    this.node = node;
    this.registryName = registryName;
  }

  private Registry<byte[]> registry() {
    return node.registry(registryName, Keys.DUPLICATE, ValueCodec.bytes());
  }

  /**
   * Registers {@code r}, held by a new process of this node. A voter's registration that its
   * session's expiry removed is made again once the voter has rejoined (a client node's is not: it
   * is to be restarted).
   *
   * @throws io.roster.RosterException if the cluster does not take it within the node's request timeout
   */
  @Override
  public void register(RosterRegistration r) {
    LocalProcess holder = node.spawn();
    LocalProcess before = holders.put(r.getInstanceId(), holder);
    if (before != null) {
      before.close(); // registered again (a new port): the old registration goes with its process
    }
    try {
      registry().register(r.getServiceId(), holder, Instances.encode(r));
    } catch (RuntimeException e) {
      holders.remove(r.getInstanceId(), holder);
      holder.close();
      throw e;
    }
    LOG.info("registered {} in Roster registry '{}'", r, registryName);
    holder.exited().thenRun(() -> {
      if (holders.get(r.getInstanceId()) == holder && node.role() == io.roster.Role.VOTER) {
        // not deregistered: the node's session expired and took it; a voter rejoins by itself
        node.ready().thenRun(() -> {
          if (holders.get(r.getInstanceId()) == holder) {
            try {
              register(r);
            } catch (RuntimeException e) {
              LOG.warn("registering {} again after the node rejoined failed: {}", r, e.toString());
            }
          }
        });
      }
    });
  }

  @Override
  public void deregister(RosterRegistration r) {
    LocalProcess holder = holders.remove(r.getInstanceId());
    if (holder != null) {
      holder.close(); // its registration goes with it
      LOG.info("deregistered {}", r);
    }
  }

  @Override
  public void close() {
    holders.values().forEach(LocalProcess::close);
    holders.clear();
  }

  /** Not supported: an instance is registered or not (deregister it to take it out of rotation). */
  @Override
  public void setStatus(RosterRegistration r, String value) {
    throw new UnsupportedOperationException("Roster instances have no status: deregister the instance to take it "
        + "out of rotation");
  }

  /** Whether {@code r} is registered here: {@code UP}, or null. */
  @Override
  @SuppressWarnings("unchecked")
  public <T> T getStatus(RosterRegistration r) {
    return holders.containsKey(r.getInstanceId()) ? (T) "UP" : null;
  }
}
