package io.roster;

/**
 * A registration or its removal, as a watcher sees it (Elixir's listener messages
 * {@code {:register, registry, key, partition, value}} and {@code {:unregister, ...}}).
 *
 * @param type what happened
 * @param registry the registry's name
 * @param key the key
 * @param pid the process the entry belongs to
 * @param value the entry's value (for a removal, the value it had)
 * @param revision the revision of the command that caused the event, in its partition's log (its
 *     own, even when group commit put several commands in one Raft entry); each partition's events
 *     come in revision order
 * @param partition the partition the entry lives in (0 for a registry of one partition)
 * @param <V> the value type
 */
public record RegistryEvent<V>(Type type, String registry, String key, Pid pid, V value, long revision,
    int partition) {
  public enum Type {
    REGISTERED,
    /** Removed by unregister, unregisterMatch, the process's death or its node's session expiry. */
    UNREGISTERED
  }
}
