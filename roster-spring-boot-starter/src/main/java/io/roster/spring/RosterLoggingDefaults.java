package io.roster.spring;

import java.util.Map;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.env.EnvironmentPostProcessor;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;

/**
 * Keeps Apache Ratis, which logs every election, segment roll and connection at INFO, at WARN in
 * the application's log unless the application sets {@code logging.level.org.apache.ratis} itself
 * (these defaults come last).
 */
public class RosterLoggingDefaults implements EnvironmentPostProcessor {
  @Override
  public void postProcessEnvironment(ConfigurableEnvironment environment, SpringApplication application) {
    environment.getPropertySources().addLast(new MapPropertySource("rosterLoggingDefaults",
        Map.of("logging.level.org.apache.ratis", "WARN")));
  }
}
