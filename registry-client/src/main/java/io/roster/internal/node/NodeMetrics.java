package io.roster.internal.node;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.roster.internal.Failures;
import io.roster.proto.Command;
import io.roster.proto.Result;
import io.roster.ratis.RegistryStateMachine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * A node's meters in the {@link MeterRegistry} its builder was given; with none, every method does
 * nothing and measures nothing. Named after etcd's where the meaning is the same ({@code
 * roster.server.has.leader}, {@code roster.server.leader.changes.seen}, {@code
 * roster.server.proposals.*}); tagged {@code node} and, per Raft group, {@code group} ("cluster"
 * or "registry#partition"). The meters are removed from the registry when the node closes.
 */
final class NodeMetrics {
  private final MeterRegistry registry; // null: off
  private final Tags nodeTags;
  private final List<Meter> meters = new CopyOnWriteArrayList<>();
  private final ConcurrentHashMap<List<String>, Counter> writes = new ConcurrentHashMap<>();
  private final Timer writeLatency;
  private final Timer consistentReadLatency;
  private final Timer callLatency;
  private final MultiGauge registrations;

  NodeMetrics(MeterRegistry registry, String nodeId) {
    this.registry = registry;
    this.nodeTags = Tags.of("node", nodeId);
    if (registry == null) {
      writeLatency = null;
      consistentReadLatency = null;
      callLatency = null;
      registrations = null;
      return;
    }
    writeLatency = keep(latency("roster.write.duration", "a write's time from its call to its result, visible here"));
    consistentReadLatency = keep(latency("roster.read.consistent.duration",
        "a linearizable read's wait: its barrier and this node's apply of the barrier's index"));
    callLatency = keep(latency("roster.call.duration", "a call's time from its send to its reply"));
    registrations = MultiGauge.builder("roster.registrations").description("registrations per registry")
        .tags(nodeTags).register(registry);
  }

  boolean on() {
    return registry != null;
  }

  private Timer latency(String name, String description) {
    return Timer.builder(name).description(description).tags(nodeTags)
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(30))
        .register(registry);
  }

  private <M extends Meter> M keep(M meter) {
    meters.add(meter);
    if (closed) { // registered by a write that ended as the node closed
      meters.remove(meter);
      registry.remove(meter);
    }
    return meter;
  }

  /** Set once the node closes: nothing is registered or recounted after. */
  private volatile boolean closed;

  /** Ratis' own metrics of this node's divisions (see {@link RatisMeters}); null with no registry. */
  private volatile RatisMeters ratis;

  /** The node's own meters: messages sent and dropped; and Ratis' metrics of its divisions. */
  void bindNode(Node node) {
    if (registry == null) {
      return;
    }
    ratis = RatisMeters.start(node.nodeId(), registry);
    keep(FunctionCounter.builder("roster.messages.sent", node, Node::messagesSent)
        .description("messages this node's processes sent to processes on other nodes").tags(nodeTags)
        .register(registry));
    keep(FunctionCounter.builder("roster.messages.dropped", node, Node::messagesDropped)
        .description("messages dropped: a full queue, a dead or unreachable receiver").tags(nodeTags)
        .register(registry));
  }

  /** A Raft group's meters on this node. */
  void bindGroup(Group g) {
    if (registry == null) {
      return;
    }
    Tags tags = nodeTags.and("group", g.label());
    gauge("roster.server.has.leader", "1 if this node knows the group's leader, else 0", tags, g,
        x -> x.hasLeader() ? 1 : 0);
    gauge("roster.server.proposals.applied", "the Raft index this node's mirror of the group has applied", tags, g,
        x -> x.mirror().appliedIndex());
    gauge("roster.server.proposals.pending", "writes waiting in the group-commit queue", tags, g,
        x -> x.writer().queued());
    gauge("roster.sessions.open", "node sessions open in the group", tags, g, x -> x.mirror().sessionCount());
    DistributionSummary batches = keep(DistributionSummary.builder("roster.batch.commands")
        .description("commands per batch this node sent to the group's leader").tags(tags)
        .publishPercentileHistogram().minimumExpectedValue(1.0).maximumExpectedValue(4096.0).register(registry));
    g.writer().onBatch(batches::record);
    keep(FunctionCounter.builder("roster.read.barriers", g, Group::barriersTaken)
        .description("read barriers this node asked of the group's leader (linearizable reads share them)")
        .tags(tags).register(registry));
    RegistryStateMachine sm = g.stateMachine();
    if (sm != null) {
      keep(FunctionCounter.builder("roster.server.leader.changes.seen", sm, RegistryStateMachine::leaderChanges)
          .description("leader changes this voter has seen in the group").tags(tags).register(registry));
      gauge("roster.server.proposals.committed", "the group's commit index as this voter knows it", tags, g,
          Group::commitIndex);
      gauge("roster.server.apply.lag", "entries this voter has committed but not applied", tags, g,
          x -> Math.max(0, x.commitIndex() - x.mirror().appliedIndex()));
      keep(FunctionTimer.builder("roster.snapshot.duration", sm, RegistryStateMachine::snapshotsTaken,
          RegistryStateMachine::snapshotNanos, TimeUnit.NANOSECONDS)
          .description("snapshots this voter took of the group, and their time").tags(tags).register(registry));
      keep(FunctionCounter.builder("roster.snapshot.installs", sm, RegistryStateMachine::snapshotsInstalled)
          .description("snapshots this voter installed from the group's leader").tags(tags).register(registry));
    } else {
      gauge("roster.client.stream.silence", "seconds since this client's change stream of the group last had an "
          + "answer (a voter answers at least twice a second; more means it is cut off)", tags, g,
          x -> x.streamSilentMillis() / 1000.0);
    }
  }

  private <T> void gauge(String name, String description, Tags tags, T obj, ToDoubleFunction<T> f) {
    keep(Gauge.builder(name, obj, x -> {
      try {
        return f.applyAsDouble(x);
      } catch (RuntimeException closing) {
        return Double.NaN;
      }
    }).description(description).tags(tags).strongReference(false).register(registry));
  }

  /** When a write starts: its start time, or 0 with no registry. */
  long start() {
    return registry == null ? 0 : System.nanoTime();
  }

  /** A write's end: counted by command and result, and timed. */
  void written(long startNanos, String group, Command command, Result result, Throwable error) {
    if (registry == null || closed) {
      return;
    }
    writeLatency.record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
    String kind = command.getKindCase().name().toLowerCase(Locale.ROOT);
    String outcome = error != null ? failure(error) : result.getStatus().name().toLowerCase(Locale.ROOT);
    writes.computeIfAbsent(List.of(group, kind, outcome), k -> keep(Counter.builder("roster.writes")
        .description("writes by command and result (ok, a refusal's status, or why it has none)")
        .tags(nodeTags.and("group", group, "command", kind, "result", outcome)).register(registry)))
        .increment();
  }

  private static String failure(Throwable error) {
    Throwable cause = Failures.cause(error);
    if (cause instanceof io.roster.MirrorLagException) {
      return "mirror_lag";
    }
    if (cause instanceof java.util.concurrent.TimeoutException) {
      return "timeout";
    }
    if (cause instanceof io.roster.RegistryUnavailableException) {
      return "unavailable";
    }
    if (cause instanceof io.roster.SessionExpiredException) {
      return "session_expired";
    }
    if (cause instanceof io.roster.LimitExceededException) {
      return "limit_exceeded";
    }
    return "error";
  }

  void consistentRead(long startNanos) {
    if (registry != null) {
      consistentReadLatency.record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
    }
  }

  void call(long startNanos) {
    if (registry != null) {
      callLatency.record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
    }
  }

  /** Refreshes the registrations per registry (from this node's mirrors). */
  void refreshRegistrations(List<Group> groups) {
    if (registry == null || closed) {
      return;
    }
    List<MultiGauge.Row<?>> rows = new ArrayList<>();
    for (Group g : groups) {
      g.registrations().forEach((registry, count) ->
          rows.add(MultiGauge.Row.of(Tags.of("group", g.label(), "registry", registry), count)));
    }
    registrations.register(rows, true);
  }

  /** Removes the node's meters from the registry. */
  void close() {
    if (registry == null) {
      return;
    }
    closed = true;
    RatisMeters r = ratis;
    if (r != null) {
      r.close();
    }
    registrations.register(List.of(), true);
    for (Meter m : meters) {
      registry.remove(m);
    }
    meters.clear();
    registry.remove(writeLatency);
    registry.remove(consistentReadLatency);
    registry.remove(callLatency);
  }
}
