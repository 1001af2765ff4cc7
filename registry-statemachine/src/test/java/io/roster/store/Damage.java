package io.roster.store;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/** Damage done to files on disk by the tests that show it is refused (shared through the test jar). */
public final class Damage {
  private Damage() {}

  /** Flips 8 bytes in the middle of {@code file}. */
  public static void flip(Path file) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      long at = f.length() / 2;
      byte[] b = new byte[8];
      f.seek(at);
      f.readFully(b);
      for (int i = 0; i < b.length; i++) {
        b[i] ^= (byte) 0xFF;
      }
      f.seek(at);
      f.write(b);
    }
  }
}
