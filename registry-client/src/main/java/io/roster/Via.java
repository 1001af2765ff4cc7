package io.roster;

import java.util.Objects;

/**
 * A name to start a process under, Elixir's {@code {:via, Registry, {registry, key[, value]}}}:
 * {@link RegistryNode#spawn(Via, MessageHandler)} registers the new process under it before anyone
 * can reach the process, or ends the process at once (before it received anything). Made by {@link Registry#via}; only unique registries
 * name processes this way.
 *
 * @param <V> the value type
 */
public final class Via<V> {
  private final Registry<V> registry;
  private final String key;
  private final V value;

  Via(Registry<V> registry, String key, V value) {
    this.registry = Objects.requireNonNull(registry, "registry");
    this.key = Objects.requireNonNull(key, "key");
    this.value = value;
    if (registry.keys() != Keys.UNIQUE) {
      throw new IllegalArgumentException("only unique registries can name processes; '" + registry.name()
          + "' has duplicate keys");
    }
    if (key.isEmpty()) {
      throw new IllegalArgumentException("key must not be empty");
    }
  }

  /** Made by {@link Registry#via}. */
  static <V> Via<V> of(Registry<V> registry, String key, V value) {
    return new Via<>(registry, key, value);
  }

  public Registry<V> registry() {
    return registry;
  }

  public String key() {
    return key;
  }

  /** The value registered with the name, or null. */
  public V value() {
    return value;
  }

  /**
   * The process running under this name, or null: {@link Registry#whereis(String)} on the mirror of
   * the node whose registry handle made this name.
   */
  public Pid whereis() {
    return registry.whereis(key);
  }

  @Override
  public String toString() {
    return "via " + registry.name() + "/" + key;
  }
}
