package io.roster.schema;

/**
 * One change to the replicated state, as decided by {@link RegistryCore}. The mirror and the store
 * apply the same changes in the same order, which is what keeps them equal. Changes are also the
 * events that watchers observe.
 */
public sealed interface Change {
  record RegistryCreated(RegistryDescriptor registry) implements Change {}

  record Registered(Registration registration) implements Change {}

  record Unregistered(Registration registration) implements Change {}

  record ValueUpdated(Registration before, Registration after) implements Change {}

  record MetaPut(String registry, String key, byte[] value) implements Change {}

  record MetaDeleted(String registry, String key) implements Change {}

  record SessionChanged(Session session) implements Change {}

  record LockAcquired(LockHold lock) implements Change {}

  record LockReleased(LockHold lock) implements Change {}
}
