package io.roster.store;

import io.roster.schema.Registration;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The keys of the store: a type byte, then the record's names. Registries ('G' + name), unique and
 * duplicate entries ('U'/'D' + length-prefixed registry and key, a duplicate's revision after),
 * metadata and locks ('M'/'L' + length-prefixed registry, then the key), sessions ('S' + node id),
 * and the log's bookkeeping: writers' last entries ('W' + writer number, then node id), the applied
 * index ('A') and the format version ('V').
 */
public final class StoreKeys {
  private StoreKeys() {}

  static final byte REGISTRY = 'G';
  static final byte UNIQUE = 'U';
  static final byte DUPLICATE = 'D';
  static final byte META = 'M';
  static final byte LOCK = 'L';
  static final byte SESSION = 'S';
  static final byte WRITER = 'W';
  static final byte[] APPLIED_KEY = {'A'};
  static final byte[] FORMAT_KEY = {'V'};

  /** Whether a store key is one of a state record: a registry, an entry, metadata, a lock or a session. */
  static boolean stateKey(byte[] key) {
    if (key.length < 2) {
      return false;
    }
    return switch (key[0]) {
      case REGISTRY, UNIQUE, DUPLICATE, META, LOCK, SESSION -> true;
      default -> false;
    };
  }

  /**
   * Whether a store key is the log's bookkeeping: the applied index, the format version or a writer's
   * last entry (not state: left out of digests and backups; a writer's record matters to its
   * cluster's log only, and a repeat it failed to skip shows in the state it changed).
   */
  public static boolean bookkeeping(byte[] key) {
    return (key.length == 1 && (key[0] == APPLIED_KEY[0] || key[0] == FORMAT_KEY[0]))
        || (key.length > 9 && key[0] == WRITER);
  }

  static byte[] entryKey(Registration r) {
    byte[] registry = r.registry().name().getBytes(StandardCharsets.UTF_8);
    byte[] key = r.key().getBytes(StandardCharsets.UTF_8);
    if (r.registry().unique()) {
      return ByteBuffer.allocate(1 + 2 + registry.length + 2 + key.length)
          .put(UNIQUE).putShort((short) registry.length).put(registry).putShort((short) key.length).put(key).array();
    }
    return ByteBuffer.allocate(1 + 2 + registry.length + 2 + key.length + 8 + 4)
        .put(DUPLICATE).putShort((short) registry.length).put(registry).putShort((short) key.length).put(key)
        .putLong(r.index()).putInt(r.ordinal()).array();
  }

  /** type, length-prefixed registry, then the rest unprefixed. */
  static byte[] key(byte type, String registry, String rest) {
    byte[] reg = registry.getBytes(StandardCharsets.UTF_8);
    byte[] r = rest.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(1 + 2 + reg.length + r.length).put(type).putShort((short) reg.length).put(reg).put(r)
        .array();
  }

  static byte[] key(byte type, String name) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(1 + n.length).put(type).put(n).array();
  }

  static byte[] writerKey(String nodeId, long writer) {
    byte[] n = nodeId.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(1 + 8 + n.length).put(WRITER).putLong(writer).put(n).array();
  }

  static String string(ByteBuffer b) {
    int length = Short.toUnsignedInt(b.getShort());
    String s = new String(b.array(), b.position(), length, StandardCharsets.UTF_8);
    b.position(b.position() + length);
    return s;
  }

  static String rest(ByteBuffer b) {
    return new String(b.array(), b.position(), b.remaining(), StandardCharsets.UTF_8);
  }
}
