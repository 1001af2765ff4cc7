package io.roster.internal;

import io.roster.Consistency;
import io.roster.Keys;
import io.roster.LocalProcess;
import io.roster.Pid;
import io.roster.Registry;
import io.roster.RegistryEntry;
import io.roster.statemachine.Commands;
import io.roster.statemachine.Mirror;
import io.roster.statemachine.Registration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/** A registry handle of a node; see {@link Registry} for the contract. */
final class RegistryImpl implements Registry {
  private final Node node;
  private final String name;
  private final Keys keys;
  /** This registry's state in the mirror it was found in; found again when the node replaces its mirror. */
  private volatile Found found;

  private record Found(Mirror mirror, Mirror.RegistryState state) {}

  RegistryImpl(Node node, String name, Keys keys) {
    this.node = node;
    this.name = name;
    this.keys = keys;
  }

  /** This registry in the node's current mirror, or null while the mirror has not seen it created. */
  private Mirror.RegistryState state() {
    Mirror mirror = node.mirror();
    Found f = found;
    if (f != null && f.mirror() == mirror) {
      return f.state();
    }
    Mirror.RegistryState state = mirror.registryState(name);
    if (state != null) {
      found = new Found(mirror, state);
    }
    return state;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Keys keys() {
    return keys;
  }

  @Override
  public long register(String key, LocalProcess process, byte[] value) {
    return Node.join(registerAsync(key, process, value));
  }

  @Override
  public CompletableFuture<Long> registerAsync(String key, LocalProcess process, byte[] value) {
    checkKey(key);
    Objects.requireNonNull(value, "value");
    Pid pid = node.ownProcess(process);
    return node.write(Commands.register(name, key, value, pid), key);
  }

  @Override
  public CompletableFuture<Long> unregister(String key, LocalProcess process) {
    checkKey(key);
    Pid pid = Objects.requireNonNull(process, "process").pid();
    node.pending().addKey(name, key, pid);
    CompletableFuture<Long> outcome = node.write(Commands.unregister(name, key, pid), key);
    outcome.whenComplete((revision, error) -> {
      if (error != null) {
        node.pending().removeKey(name, key, pid);
      } else {
        // keep hiding the key until this node's mirror has applied the removal
        node.afterApplied(revision, () -> node.pending().removeKey(name, key, pid));
      }
    });
    return outcome;
  }

  @Override
  public Pid whereis(String key) {
    Mirror.RegistryState state = state();
    Pid owner = state == null ? null : state.whereis(key);
    if (owner == null || !node.pending().hides(name, key, owner)) {
      return owner;
    }
    for (RegistryEntry e : lookup(key)) { // the first entry is hidden; a duplicate key may have others
      return e.pid();
    }
    return null;
  }

  @Override
  public Pid whereisConsistent(String key) {
    return whereis(key, Consistency.LINEARIZABLE);
  }

  @Override
  public Pid whereis(String key, Consistency consistency) {
    node.await(consistency);
    return whereis(key);
  }

  @Override
  public List<RegistryEntry> lookup(String key) {
    Mirror.RegistryState state = state();
    List<Registration> found = state == null ? List.of() : state.lookup(key);
    List<RegistryEntry> entries = new ArrayList<>(found.size());
    for (Registration r : found) {
      if (!node.pending().hides(name, key, r.pid())) {
        entries.add(new RegistryEntry(r.pid(), r.valueUnsafe(), r.revision()));
      }
    }
    return entries;
  }

  @Override
  public List<RegistryEntry> lookup(String key, Consistency consistency) {
    node.await(consistency);
    return lookup(key);
  }

  private static void checkKey(String key) {
    Objects.requireNonNull(key, "key");
    if (key.isEmpty()) {
      throw new IllegalArgumentException("key must not be empty");
    }
  }

  @Override
  public String toString() {
    return "registry " + name + " (" + keys + ") on " + node.nodeId();
  }
}
