package io.roster.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.roster.Health;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * A node's health over plain HTTP, for probes and load balancers: {@code GET /livez} answers 200
 * while the node is live and 503 when it must be restarted, {@code GET /readyz} 200 while it is
 * ready and 503 while it is not, each with the reasons one per line ({@link Health}); its status as
 * JSON on {@code GET /status} ({@link io.roster.NodeStatus}) and its metrics in Prometheus' text
 * format on {@code GET /metrics} when it is given them, and a page at {@code GET /} that shows
 * both to a browser, refreshed every 2 s (its script at {@code /status.js}). Nothing is
 * read from a request but its method and path; every other path is 404 and every other method 405.
 * The answers carry no secret, but the port is not authenticated: bind it to an address only
 * probes reach.
 */
final class HealthEndpoints implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(HealthEndpoints.class);
  private static final int THREADS = 4;
  /** The longest a request may take to arrive, and its answer to leave. */
  static final int REQUEST_SECONDS = 5;

  private final HttpServer server;
  private final ExecutorService executor;

  private HealthEndpoints(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /**
   * Serves {@code health} on {@code hostPort} (port 0: a free one).
   *
   * @throws IllegalArgumentException if the address is not host:port
   * @throws UncheckedIOException if it cannot be bound
   */
  static HealthEndpoints start(String hostPort, Supplier<Health> health) {
    return start(hostPort, health, null, null);
  }

  /**
   * Serves {@code health}, {@code status} as JSON on {@code /status} and {@code metrics} (Prometheus'
   * text format) on {@code /metrics} (each unless null), on {@code hostPort} (port 0: a free one).
   *
   * @throws IllegalArgumentException if the address is not host:port
   * @throws UncheckedIOException if it cannot be bound
   */
  static HealthEndpoints start(String hostPort, Supplier<Health> health, Supplier<io.roster.NodeStatus> status,
      Supplier<String> metrics) {
    InetSocketAddress address = address(hostPort);
    // The JDK server reads a request on a worker thread with no time limit by default: a client that
    // sends a byte and stops would hold a worker for good. Bound reading and answering (seconds),
    // unless the operator set them; read once, when the server's configuration class loads.
    if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
      System.setProperty("sun.net.httpserver.maxReqTime", String.valueOf(REQUEST_SECONDS));
    }
    if (System.getProperty("sun.net.httpserver.maxRspTime") == null) {
      System.setProperty("sun.net.httpserver.maxRspTime", String.valueOf(REQUEST_SECONDS));
    }
    HttpServer server;
    try {
      server = HttpServer.create(address, 16);
    } catch (IOException e) {
      throw new UncheckedIOException("--http-address " + hostPort + " cannot be bound: " + e.getMessage(), e);
    }
    java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
    ExecutorService executor = Executors.newFixedThreadPool(THREADS, r -> {
      Thread t = new Thread(r, "roster-http-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.createContext("/", exchange -> answer(exchange, health, status, metrics));
    server.start();
    return new HealthEndpoints(server, executor);
  }

  /** The address it serves on (the port chosen when 0 was given). */
  InetSocketAddress address() {
    return server.getAddress();
  }

  static InetSocketAddress address(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0 || colon == hostPort.length() - 1) {
      throw new IllegalArgumentException("--http-address: '" + hostPort + "' is not host:port");
    }
    int port;
    try {
      port = Integer.parseInt(hostPort.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--http-address: '" + hostPort + "' has no port number");
    }
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("--http-address: port " + port + " is out of range");
    }
    InetSocketAddress address = new InetSocketAddress(hostPort.substring(0, colon), port);
    if (address.isUnresolved()) {
      throw new IllegalArgumentException("--http-address: host " + hostPort.substring(0, colon) + " is unknown");
    }
    return address;
  }

  private static void answer(HttpExchange exchange, Supplier<Health> health, Supplier<io.roster.NodeStatus> status,
      Supplier<String> metrics) throws IOException {
    try (exchange) {
      String method = exchange.getRequestMethod();
      if (!method.equals("GET") && !method.equals("HEAD")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        send(exchange, 405, "method not allowed\n");
        return;
      }
      String path = exchange.getRequestURI().getPath();
      try {
        route(exchange, path, health, status, metrics);
      } catch (RuntimeException e) {
        LOG.warn("{} {}: the node's state could not be read", method, path, e);
        send(exchange, 500, "the node's state could not be read: " + e + "\n");
      }
    }
  }

  private static void route(HttpExchange exchange, String path, Supplier<Health> health,
      Supplier<io.roster.NodeStatus> status, Supplier<String> metrics) throws IOException {
    switch (path) {
      case "/livez" -> {
        Health h = health.get();
        send(exchange, h.live() ? 200 : 503, h.live() ? "ok\n" : lines(h));
      }
      case "/readyz" -> {
        Health h = health.get();
        send(exchange, h.ready() ? 200 : 503, h.ready() ? "ok\n" : lines(h));
      }
      case "/status" -> {
        if (status == null) {
          send(exchange, 404, "not found: this node serves no status\n");
        } else {
          send(exchange, 200, Json.write(status.get()) + "\n", "application/json");
        }
      }
      case "/metrics" -> {
        if (metrics == null) {
          send(exchange, 404, "not found: this node publishes no metrics\n");
        } else {
          send(exchange, 200, metrics.get(), PROMETHEUS_TEXT);
        }
      }
      case "/" -> {
        if (status == null) {
          send(exchange, 404, "not found: this node serves no status\n");
        } else {
          page(exchange, PAGE, "text/html; charset=utf-8");
        }
      }
      case "/status.js" -> {
        if (status == null) {
          send(exchange, 404, "not found: this node serves no status\n");
        } else {
          page(exchange, SCRIPT, "text/javascript; charset=utf-8");
        }
      }
      default -> send(exchange, 404, "not found: the node serves /livez, /readyz"
          + (status == null ? "" : ", /status") + (metrics == null ? "" : ", /metrics") + "\n");
    }
  }

  /** The status page and its script (resources of this package): read once. */
  private static final String PAGE = resource("status.html");
  private static final String SCRIPT = resource("status.js");

  private static String resource(String name) {
    try (java.io.InputStream in = HealthEndpoints.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("resource " + name + " is missing from the jar");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The page or its script, under a policy that lets it load only this node's own script and
   * fetch only this node's endpoints (no inline script, no other origin, no framing).
   */
  private static void page(HttpExchange exchange, String body, String contentType) throws IOException {
    exchange.getResponseHeaders().set("Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
    send(exchange, 200, body, contentType);
  }

  private static String lines(Health h) {
    return String.join("\n", h.reasons()) + "\n";
  }

  /** Prometheus' text exposition format. */
  static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private static void send(HttpExchange exchange, int status, String body) throws IOException {
    send(exchange, status, body, "text/plain; charset=utf-8");
  }

  private static void send(HttpExchange exchange, int status, String body, String contentType) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
