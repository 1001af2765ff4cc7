package io.roster.schema;

/**
 * One change to the replicated state, as decided by {@link io.roster.core.RegistryCore}. The mirror and the store
 * apply the same changes in the same order, which is what keeps them equal. Changes are also the
 * events that watchers observe.
 */
public sealed interface Change {
  /** A registry was created. */
  record RegistryCreated(RegistryDescriptor registry) implements Change {}

  /** A process was registered under a key. */
  record Registered(Registration registration) implements Change {}

  /** A registration ended: unregistered, or its process or node died. */
  record Unregistered(Registration registration) implements Change {}

  /** A registration's value changed. */
  record ValueUpdated(Registration before, Registration after) implements Change {}

  /** A registry metadata key was set. */
  record MetaPut(String registry, String key, byte[] value) implements Change {}

  /** A registry metadata key was deleted. */
  record MetaDeleted(String registry, String key) implements Change {}

  /** A node's session opened, was renewed in incarnation, or ended. */
  record SessionChanged(Session session) implements Change {}

  /** A lock was taken. */
  record LockAcquired(LockHold lock) implements Change {}

  /** A lock was released, or its holder died. */
  record LockReleased(LockHold lock) implements Change {}
}
