package io.roster.spring.discovery;

import io.roster.RegistryNode;
import io.roster.spring.RosterAutoConfiguration;
import io.roster.spring.RosterProperties;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;

/**
 * Spring Cloud discovery on Roster ({@code roster.discovery.*}): a {@link RosterDiscoveryClient}
 * (so {@code DiscoveryClient}, {@code @EnableDiscoveryClient} and Spring Cloud LoadBalancer find
 * instances through Roster) and a {@link RosterServiceRegistry}; {@link
 * RosterAutoServiceRegistrationAutoConfiguration} registers this application.
 */
@AutoConfiguration(after = RosterAutoConfiguration.class, beforeName = {
    "org.springframework.cloud.client.discovery.simple.SimpleDiscoveryClientAutoConfiguration",
    "org.springframework.cloud.client.discovery.composite.CompositeDiscoveryClientAutoConfiguration"})
@ConditionalOnClass(name = "org.springframework.cloud.client.discovery.DiscoveryClient")
@ConditionalOnBean(RegistryNode.class)
@ConditionalOnProperty(prefix = "roster", name = {"enabled", "discovery.enabled"}, matchIfMissing = true)
@org.springframework.cloud.client.ConditionalOnDiscoveryEnabled
@org.springframework.cloud.client.ConditionalOnBlockingDiscoveryEnabled
public class RosterDiscoveryAutoConfiguration {
  @Bean
  @ConditionalOnMissingBean
  public RosterDiscoveryClient rosterDiscoveryClient(RegistryNode node, RosterProperties properties) {
    return new RosterDiscoveryClient(node, properties.getDiscovery().getRegistry());
  }

  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  public RosterServiceRegistry rosterServiceRegistry(RegistryNode node, RosterProperties properties) {
    return new RosterServiceRegistry(node, properties.getDiscovery().getRegistry());
  }
}
