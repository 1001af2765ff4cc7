package io.roster.spring;

import io.roster.Health;
import io.roster.RegistryNode;
import org.springframework.boot.actuate.health.AbstractHealthIndicator;

/**
 * The node's {@link RegistryNode#health()} for Actuator, with the reasons: UP while it is ready (a
 * leader known, its session open and heard, its mirror caught up), OUT_OF_SERVICE while it is live
 * but not ready (an election, a lost quorum: it may come back by itself), DOWN when it is not live
 * (closed, or a client node whose session expired: to be restarted). Local, no network call.
 */
public class RosterHealthIndicator extends AbstractHealthIndicator {
  private final RegistryNode node;

  public RosterHealthIndicator(RegistryNode node) {
    super("Roster health check failed");
    this.node = node;
  }

  @Override
  protected void doHealthCheck(org.springframework.boot.actuate.health.Health.Builder builder) {
    Health h = node.health();
    builder.withDetail("nodeId", node.nodeId()).withDetail("live", h.live()).withDetail("ready", h.ready());
    if (!h.reasons().isEmpty()) {
      builder.withDetail("reasons", h.reasons());
    }
    if (h.ready()) {
      builder.up();
    } else if (h.live()) {
      builder.outOfService(); // waiting for a leader, its session, or its mirror: it may come back by itself
    } else {
      builder.down(); // to be restarted
    }
  }
}
