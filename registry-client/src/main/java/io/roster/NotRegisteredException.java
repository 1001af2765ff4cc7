package io.roster;

/** A name used to reach a process ({@link Registry#send}, {@link Registry#call}) is not registered. */
public final class NotRegisteredException extends RosterException {
  private static final long serialVersionUID = 1L;
  private final String key;

  public NotRegisteredException(String registry, String key) {
    super("'" + key + "' is not registered in registry '" + registry + "'");
    this.key = key;
  }

  /** The key that is not registered. */
  public String key() {
    return key;
  }
}
