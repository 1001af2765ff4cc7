package io.roster.spring.discovery;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.springframework.cloud.client.DefaultServiceInstance;
import org.springframework.cloud.client.ServiceInstance;

/**
 * A service instance as the value of its registration: {@code java.util.Properties} text (instance
 * id, host, port, secure, {@code metadata.*}), readable by any tool and by {@code roster get}.
 */
final class Instances {
  private static final String METADATA = "metadata.";

  private Instances() {}

  static byte[] encode(ServiceInstance i) {
    Properties p = new Properties();
    p.setProperty("instanceId", i.getInstanceId());
    p.setProperty("host", i.getHost());
    p.setProperty("port", Integer.toString(i.getPort()));
    p.setProperty("secure", Boolean.toString(i.isSecure()));
    i.getMetadata().forEach((k, v) -> p.setProperty(METADATA + k, v));
    StringWriter out = new StringWriter();
    try {
      p.store(out, null);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // without the date line Properties.store writes first: the same instance, the same bytes
    String text = out.toString();
    return text.substring(text.indexOf('\n') + 1).getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The instance a registration of {@code serviceId} describes.
   *
   * @throws IllegalArgumentException if the value is not one (another writer's registry, a damaged value)
   */
  static ServiceInstance decode(String serviceId, byte[] value) {
    if (value == null) {
      throw new IllegalArgumentException("no value");
    }
    Properties p = new Properties();
    try {
      p.load(new StringReader(new String(value, StandardCharsets.UTF_8)));
    } catch (IOException | IllegalArgumentException e) {
      throw new IllegalArgumentException("not an instance: " + e.getMessage(), e);
    }
    String host = p.getProperty("host");
    String port = p.getProperty("port");
    if (host == null || host.isBlank() || port == null) {
      throw new IllegalArgumentException("not an instance: no host or port");
    }
    int number;
    try {
      number = Integer.parseInt(port);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not an instance: port " + port);
    }
    if (number < 0 || number > 65_535) {
      throw new IllegalArgumentException("not an instance: port " + number);
    }
    Map<String, String> metadata = new TreeMap<>();
    for (String k : p.stringPropertyNames()) {
      if (k.startsWith(METADATA)) {
        metadata.put(k.substring(METADATA.length()), p.getProperty(k));
      }
    }
    return new DefaultServiceInstance(p.getProperty("instanceId", serviceId + "@" + host + ":" + port), serviceId,
        host, number, Boolean.parseBoolean(p.getProperty("secure")), metadata);
  }
}
