package io.roster.spring.discovery;

import io.roster.RegistryNode;
import io.roster.spring.RosterProperties;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.UUID;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.cloud.client.serviceregistry.AutoServiceRegistrationProperties;
import org.springframework.context.annotation.Bean;

/**
 * This application's instance ({@code spring.application.name}, its host and the port its web
 * server took), registered through the {@link RosterServiceRegistry} once the web server listens and
 * deregistered when the context closes; off with
 * {@code spring.cloud.service-registry.auto-registration.enabled=false}.
 */
@AutoConfiguration(after = RosterDiscoveryAutoConfiguration.class, afterName = {
    "org.springframework.cloud.client.serviceregistry.AutoServiceRegistrationConfiguration",
    "org.springframework.cloud.client.serviceregistry.AutoServiceRegistrationAutoConfiguration"})
@org.springframework.boot.autoconfigure.condition.ConditionalOnClass(
    name = "org.springframework.cloud.client.serviceregistry.AbstractAutoServiceRegistration")
@ConditionalOnBean({RosterServiceRegistry.class, AutoServiceRegistrationProperties.class})
@ConditionalOnProperty(value = "spring.cloud.service-registry.auto-registration.enabled", matchIfMissing = true)
public class RosterAutoServiceRegistrationAutoConfiguration {
  @Bean
  @ConditionalOnMissingBean
  public RosterRegistration rosterRegistration(RosterProperties properties, RegistryNode node,
      @Value("${spring.application.name:application}") String serviceId) {
    RosterProperties.Discovery d = properties.getDiscovery();
    String host = d.getHost() != null ? d.getHost() : localHost();
    return new RosterRegistration(serviceId, serviceId + "-" + node.nodeId() + "-" + UUID.randomUUID(), host, 0,
        d.isSecure(), d.getMetadata());
  }

  @Bean
  @ConditionalOnMissingBean
  public RosterAutoServiceRegistration rosterAutoServiceRegistration(RosterServiceRegistry registry,
      AutoServiceRegistrationProperties properties, RosterRegistration registration) {
    return new RosterAutoServiceRegistration(registry, properties, registration);
  }

  private static String localHost() {
    try {
      return InetAddress.getLocalHost().getHostAddress();
    } catch (UnknownHostException e) {
      return "127.0.0.1";
    }
  }
}
