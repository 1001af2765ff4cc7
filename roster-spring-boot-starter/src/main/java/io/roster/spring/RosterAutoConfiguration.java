package io.roster.spring;

import io.micrometer.core.instrument.MeterRegistry;
import io.roster.NodeListener;
import io.roster.RegistryNode;
import io.roster.Role;
import io.roster.Tls;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.LivenessState;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Configuration;

/**
 * A {@link RegistryNode} from {@code roster.*} properties ({@link RosterProperties}), started with
 * the context and closed with it (its session ends: its names go at once); its metrics in the
 * application's {@link MeterRegistry} when there is one (Micrometer metrics with Actuator), after
 * Actuator's metrics auto-configuration made it; and an Actuator health indicator named
 * {@code roster}. A client node whose session expired (it can only be restarted) marks the
 * application's liveness {@code BROKEN}; {@link RosterNodeEvents} beans hear of expiries and of a
 * voter's rejoining.
 */
@AutoConfiguration(afterName = {
    "org.springframework.boot.actuate.autoconfigure.metrics.CompositeMeterRegistryAutoConfiguration",
    "org.springframework.boot.actuate.autoconfigure.metrics.export.simple.SimpleMetricsExportAutoConfiguration"})
@ConditionalOnProperty(prefix = "roster", name = "enabled", matchIfMissing = true)
@EnableConfigurationProperties(RosterProperties.class)
public class RosterAutoConfiguration {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RosterAutoConfiguration.class);

  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  public RegistryNode rosterNode(RosterProperties properties, ObjectProvider<MeterRegistry> meters,
      ApplicationEventPublisher events, ObjectProvider<RosterNodeEvents> listeners) {
    RegistryNode.Builder b = builder(properties, meters.getIfUnique());
    b.listener(new NodeListener() {
      @Override
      public void sessionExpired(String nodeId, long incarnation) {
        if (properties.getRole() == Role.CLIENT) {
          // a client node refuses writes from now on and its mirror stops: only a restart mends it
          LOG.warn("Roster node {} lost its session (incarnation {}): the application is marked broken "
              + "(liveness) to be restarted", nodeId, incarnation);
          AvailabilityChangeEvent.publish(events, this, LivenessState.BROKEN);
        }
        listeners.orderedStream().forEach(l -> l.sessionExpired(nodeId, incarnation));
      }

      @Override
      public void rejoined(String nodeId, long lost, long incarnation) {
        listeners.orderedStream().forEach(l -> l.rejoined(nodeId, lost, incarnation));
      }
    });
    return b.start();
  }

  /**
   * The node's builder from the properties.
   *
   * @throws IllegalArgumentException naming the property that is missing or wrong
   */
  static RegistryNode.Builder builder(RosterProperties p, MeterRegistry meters) {
    if (p.getNodeId() == null || p.getNodeId().isBlank()) {
      throw new IllegalArgumentException("roster.node-id is not set: this node's id, unique in the cluster");
    }
    if (p.getVoters().isEmpty()) {
      throw new IllegalArgumentException("roster.voters is not set: the cluster's voters, e.g. roster.voters.n1="
          + "10.0.0.1:7001");
    }
    RegistryNode.Builder b = RegistryNode.builder().nodeId(p.getNodeId()).role(p.getRole()).cluster(p.getCluster())
        .sessionTimeout(p.getSessionTimeout()).joining(p.isJoin());
    p.getVoters().forEach(b::voter);
    if (p.getRole() == Role.VOTER) {
      if (p.getDataDir() == null) {
        throw new IllegalArgumentException("roster.data-dir is not set: a voter keeps its log and state there");
      }
      b.dataDir(p.getDataDir());
      String listen = p.getListenAddress() != null ? p.getListenAddress() : p.getVoters().get(p.getNodeId());
      if (listen == null) {
        throw new IllegalArgumentException("roster.listen-address is not set and roster.voters does not name "
            + p.getNodeId() + ": a voter needs its Raft address");
      }
      b.listenAddress(listen);
    } else if (p.getDataDir() != null) {
      b.dataDir(p.getDataDir());
    }
    if (p.getMessageAddress() != null) {
      b.messageAddress(p.getMessageAddress());
    }
    if (p.getRequestTimeout() != null) {
      b.requestTimeout(p.getRequestTimeout());
    }
    RosterProperties.Tls t = p.getTls();
    boolean anyTls = t.getCert() != null || t.getKey() != null || t.getCa() != null;
    if (anyTls && p.isInsecure()) {
      throw new IllegalArgumentException("roster.insecure=true and roster.tls.* are both set: choose one");
    }
    if (anyTls) {
      if (t.getCert() == null || t.getKey() == null || t.getCa() == null) {
        throw new IllegalArgumentException("TLS needs all three of roster.tls.cert, roster.tls.key and roster.tls.ca");
      }
      b.tls(t.getCrl() == null ? Tls.pem(t.getCert(), t.getKey(), t.getCa())
          : Tls.pem(t.getCert(), t.getKey(), t.getCa(), t.getCrl()));
    } else if (p.isInsecure()) {
      b.insecure();
    } else {
      throw new IllegalArgumentException("roster.tls.cert, roster.tls.key and roster.tls.ca are not set: give this "
          + "node's certificate (roster cert issue), or roster.insecure=true for a network nothing else reaches");
    }
    if (meters != null) {
      b.meterRegistry(meters);
    }
    return b;
  }

  /** The node's health for Actuator ({@code /actuator/health/roster}). */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "org.springframework.boot.actuate.health.HealthIndicator")
  static class Health {
    @Bean
    @org.springframework.boot.actuate.autoconfigure.health.ConditionalOnEnabledHealthIndicator("roster")
    @ConditionalOnMissingBean(name = "rosterHealthIndicator")
    RosterHealthIndicator rosterHealthIndicator(RegistryNode node) {
      return new RosterHealthIndicator(node);
    }
  }
}
