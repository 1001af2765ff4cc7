package io.roster;

/**
 * No leader could commit or confirm the operation within the timeout: there is no quorum, or no
 * leader is elected (DGen.Registry's {@code :no}). The operation may or may not have taken effect
 * for a write; retrying an idempotent write, or reading consistently, tells.
 */
public final class RegistryUnavailableException extends RosterException {
  private static final long serialVersionUID = 1L;

  public RegistryUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
