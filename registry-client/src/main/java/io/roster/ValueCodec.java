package io.roster;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Turns registration and metadata values into bytes and back. The registry stores and replicates
 * bytes only; the codec is the application's, so values are never Java-serialized. A registry
 * handle carries one codec ({@link RegistryNode#registry(String, Keys, ValueCodec)}); every node
 * that reads a registry should use a codec that reads what the writers wrote.
 *
 * <p>Implementations must be thread-safe and must not keep or modify the arrays they are given.
 *
 * @param <V> the value type
 */
public interface ValueCodec<V> {
  /** The bytes of {@code value} (never null; {@code value} is never null). */
  byte[] encode(V value);

  /**
   * The value of {@code bytes}.
   *
   * @throws IllegalArgumentException if the bytes are not a value of this codec
   */
  V decode(byte[] bytes);

  /** Values are byte arrays, copied on the way in and out. */
  static ValueCodec<byte[]> bytes() {
    return Builtin.BYTES;
  }

  /** Values are strings, stored as UTF-8; bytes that are not UTF-8 fail to decode. */
  static ValueCodec<String> utf8() {
    return Builtin.UTF8;
  }

  /** The built-in codecs. */
  final class Builtin {
    private Builtin() {}

    static final ValueCodec<byte[]> BYTES = new ValueCodec<>() {
      @Override
      public byte[] encode(byte[] value) {
        return value.clone();
      }

      @Override
      public byte[] decode(byte[] bytes) {
        return bytes.clone();
      }

      @Override
      public String toString() {
        return "bytes";
      }
    };

    static final ValueCodec<String> UTF8 = new ValueCodec<>() {
      @Override
      public byte[] encode(String value) {
        return value.getBytes(StandardCharsets.UTF_8);
      }

      @Override
      public String decode(byte[] bytes) {
        try {
          CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes));
          return chars.toString();
        } catch (CharacterCodingException e) {
          throw new IllegalArgumentException("the value is not UTF-8 (" + bytes.length + " bytes)", e);
        }
      }

      @Override
      public String toString() {
        return "utf8";
      }
    };
  }
}
