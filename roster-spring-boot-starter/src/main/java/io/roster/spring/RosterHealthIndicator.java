package io.roster.spring;

import io.roster.Health;
import io.roster.RegistryNode;
import org.springframework.boot.actuate.health.AbstractHealthIndicator;

/**
 * The node's {@link RegistryNode#health()} for Actuator: UP while it is ready (a leader known, its
 * session open and heard, its mirror caught up), DOWN with the reasons otherwise; local, no network
 * call.
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
    } else {
      builder.down();
    }
  }
}
