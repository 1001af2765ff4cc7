package io.roster.internal.node;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.metrics.MetricRegistries;
import org.apache.ratis.metrics.RatisMetricRegistry;
import org.apache.ratis.metrics.impl.RatisMetricRegistryImpl;
import org.apache.ratis.thirdparty.com.codahale.metrics.Counter;
import org.apache.ratis.thirdparty.com.codahale.metrics.Histogram;
import org.apache.ratis.thirdparty.com.codahale.metrics.Meter;
import org.apache.ratis.thirdparty.com.codahale.metrics.MetricRegistryListener;
import org.apache.ratis.thirdparty.com.codahale.metrics.Timer;

/**
 * Ratis' own metrics (its Dropwizard registries, one per server division and component) in a node's
 * Micrometer registry: each counter as a counter, each gauge as a gauge, each timer as its count and
 * its mean and 99th percentile in seconds, named {@code ratis.<component>.<metric>} (for example
 * {@code ratis.log_worker.flushTime}, the log's fsync) and tagged {@code node} and {@code group} (Ratis'
 * name of the Raft group, "group-" and the end of its id). One reporter registration serves the whole process (Ratis warns when
 * one is added after its first registry); each node subscribes the registries of its own members.
 */
final class RatisMeters {
  private static final Map<String, RatisMeters> BY_NODE = new ConcurrentHashMap<>();
  private static boolean registered;

  private final String nodeId;
  private final MeterRegistry registry;
  private final Map<RatisMetricRegistry, Bound> bound = new ConcurrentHashMap<>();

  private RatisMeters(String nodeId, MeterRegistry registry) {
    this.nodeId = nodeId;
    this.registry = registry;
  }

  /** Registers the process' reporter once; call before any Ratis server or client starts. */
  static synchronized void install() {
    if (!registered) {
      MetricRegistries.global().addReporterRegistration(RatisMeters::created, RatisMeters::removed);
      registered = true;
    }
  }

  /** Publishes node {@code nodeId}'s Ratis metrics to {@code registry} until {@link #close}. */
  static RatisMeters start(String nodeId, MeterRegistry registry) {
    install();
    RatisMeters m = new RatisMeters(nodeId, registry);
    BY_NODE.put(nodeId, m);
    for (RatisMetricRegistry r : MetricRegistries.global().getMetricRegistries()) {
      m.bind(r); // those made before it subscribed
    }
    return m;
  }

  private static void created(RatisMetricRegistry r) {
    for (RatisMeters m : BY_NODE.values()) {
      m.bind(r);
    }
  }

  private static void removed(RatisMetricRegistry r) {
    for (RatisMeters m : BY_NODE.values()) {
      m.unbind(r);
    }
  }

  private void bind(RatisMetricRegistry r) {
    String member = r.getMetricRegistryInfo().getPrefix();
    if (member == null || !member.startsWith(nodeId + "@") || !(r instanceof RatisMetricRegistryImpl impl)) {
      return;
    }
    Bound b = new Bound(Tags.of("node", nodeId, "group", member.substring(nodeId.length() + 1)),
        "ratis." + r.getMetricRegistryInfo().getMetricsComponentName() + ".", member + ".");
    if (bound.putIfAbsent(r, b) == null) {
      impl.getDropWizardMetricRegistry().addListener(b); // told of the metrics there already, then of new ones
    }
  }

  private void unbind(RatisMetricRegistry r) {
    Bound b = bound.remove(r);
    if (b != null && r instanceof RatisMetricRegistryImpl impl) {
      impl.getDropWizardMetricRegistry().removeListener(b);
      b.close();
    }
  }

  /** Removes this node's Ratis meters and stops following its registries. */
  void close() {
    BY_NODE.remove(nodeId, this);
    for (RatisMetricRegistry r : List.copyOf(bound.keySet())) {
      unbind(r);
    }
  }

  /** One Ratis registry's metrics as meters. */
  private final class Bound extends MetricRegistryListener.Base {
    private final Tags tags;
    private final String prefix;
    private final Map<String, List<io.micrometer.core.instrument.Meter>> meters = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** What Ratis puts before a metric's own name in its registry: "ratis.component.member." */
    private final String member;

    Bound(Tags tags, String prefix, String member) {
      this.tags = tags;
      this.prefix = prefix;
      this.member = member;
    }

    /** The meter's name: ratis.component. and the metric's own name (Ratis' full name ends with it). */
    private String meterName(String name) {
      int at = name.indexOf(member);
      return prefix + (at >= 0 ? name.substring(at + member.length()) : name);
    }

    private void keep(String name, io.micrometer.core.instrument.Meter... ms) {
      meters.put(name, List.of(ms));
      if (closed) {
        drop(name);
      }
    }

    private void drop(String name) {
      List<io.micrometer.core.instrument.Meter> ms = meters.remove(name);
      if (ms != null) {
        ms.forEach(registry::remove);
      }
    }

    @Override
    @SuppressWarnings("rawtypes")
    public void onGaugeAdded(String name, org.apache.ratis.thirdparty.com.codahale.metrics.Gauge gauge) {
      keep(name, Gauge.builder(meterName(name), gauge, g -> {
        Object v = g.getValue();
        return v instanceof Number n ? n.doubleValue() : Double.NaN;
      }).tags(tags).strongReference(false).register(registry));
    }

    @Override
    public void onCounterAdded(String name, Counter counter) {
      keep(name, FunctionCounter.builder(meterName(name), counter, Counter::getCount).tags(tags).register(registry));
    }

    @Override
    public void onMeterAdded(String name, Meter meter) {
      keep(name, FunctionCounter.builder(meterName(name), meter, Meter::getCount).tags(tags).register(registry));
    }

    @Override
    public void onHistogramAdded(String name, Histogram histogram) {
      keep(name, FunctionCounter.builder(meterName(name) + ".count", histogram, Histogram::getCount).tags(tags)
          .register(registry),
          Gauge.builder(meterName(name) + ".mean", histogram, h -> h.getSnapshot().getMean()).tags(tags)
              .register(registry));
    }

    @Override
    public void onTimerAdded(String name, Timer timer) {
      double perSecond = TimeUnit.SECONDS.toNanos(1);
      keep(name, FunctionCounter.builder(meterName(name) + ".count", timer, Timer::getCount).tags(tags)
          .register(registry),
          Gauge.builder(meterName(name) + ".mean.seconds", timer, t -> t.getSnapshot().getMean() / perSecond)
              .tags(tags).register(registry),
          Gauge.builder(meterName(name) + ".p99.seconds", timer, t -> t.getSnapshot().get99thPercentile() / perSecond)
              .tags(tags).register(registry));
    }

    @Override
    public void onGaugeRemoved(String name) {
      drop(name);
    }

    @Override
    public void onCounterRemoved(String name) {
      drop(name);
    }

    @Override
    public void onHistogramRemoved(String name) {
      drop(name);
    }

    @Override
    public void onMeterRemoved(String name) {
      drop(name);
    }

    @Override
    public void onTimerRemoved(String name) {
      drop(name);
    }

    void close() {
      closed = true;
      for (String name : new ArrayList<>(meters.keySet())) {
        drop(name);
      }
    }
  }
}
