package io.roster.spring.discovery;

import org.springframework.cloud.client.serviceregistry.AbstractAutoServiceRegistration;
import org.springframework.cloud.client.serviceregistry.AutoServiceRegistrationProperties;

/**
 * Registers this application's instance once its web server has a port (Spring Cloud's
 * {@code WebServerInitializedEvent} path), and deregisters it as soon as the context starts
 * closing.
 */
public class RosterAutoServiceRegistration extends AbstractAutoServiceRegistration<RosterRegistration> {
  private final RosterRegistration registration;
  private final AutoServiceRegistrationProperties properties;

  public RosterAutoServiceRegistration(RosterServiceRegistry registry, AutoServiceRegistrationProperties properties,
      RosterRegistration registration) {
    super(registry, properties);
    this.registration = registration;
    this.properties = properties;
  }

  @Override
  protected void register() {
    if (registration.getPort() == 0) {
      registration.setPort(getPort().get()); // the port the web server took
    }
    super.register();
  }

  /**
   * Deregisters as the context starts closing, before the web server's graceful shutdown drains it:
   * callers stop choosing this instance while it still answers.
   */
  @org.springframework.context.event.EventListener
  public void contextClosing(org.springframework.context.event.ContextClosedEvent event) {
    if (event.getApplicationContext() == getContext() && isRunning()) { // not a child context's (LoadBalancer's)
      stop();
    }
  }

  @Override
  protected Object getConfiguration() {
    return properties;
  }

  @Override
  protected boolean isEnabled() {
    return properties.isEnabled();
  }

  @Override
  protected RosterRegistration getRegistration() {
    return registration;
  }

  @Override
  protected RosterRegistration getManagementRegistration() {
    return null; // the management port is not registered as a service of its own
  }
}
