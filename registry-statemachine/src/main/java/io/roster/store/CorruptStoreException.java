package io.roster.store;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A store or snapshot whose data fail their checksums, or do not decode: the node must not serve
 * it. The message names the directory and, when RocksDB does, the damaged file.
 */
public final class CorruptStoreException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient Path dir;

  public CorruptStoreException(Path dir, String detail, Throwable cause) {
    super("the store at " + dir + " is corrupt (" + detail + "); this node does not serve it. Keep it stopped "
        + "and replace the member (README, \"Replacing a voter\"); the other voters serve while they are a "
        + "majority", cause);
    this.dir = dir;
  }

  /** The directory of the damaged store or snapshot. */
  public Path dir() {
    return dir;
  }
}
