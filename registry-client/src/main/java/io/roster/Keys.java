package io.roster;

/** How a registry's keys behave, fixed when the registry is created. */
public enum Keys {
  /** A key has at most one owner. */
  UNIQUE,
  /** A key may have any number of entries, from any processes, including several from one process. */
  DUPLICATE
}
