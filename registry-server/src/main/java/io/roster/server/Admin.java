package io.roster.server;

import io.roster.RosterException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/** What the admin commands share: how a failure ends them, and how a value prints. */
final class Admin {
  /** Exit code: bad input (an option, a missing registry). */
  static final int BAD_INPUT = 2;
  /** Exit code: the cluster could not be reached, refused the certificate, or failed the operation. */
  static final int FAILED = 1;

  private Admin() {}

  /**
   * Runs {@code action} and returns its exit code; a failure prints one line on stderr and ends with
   * {@link #BAD_INPUT} for bad input or {@link #FAILED} for the cluster's failure.
   */
  static int run(String what, Callable<Integer> action) {
    try {
      return action.call();
    } catch (IllegalArgumentException e) {
      System.err.println("roster " + what + ": " + e.getMessage());
      return BAD_INPUT;
    } catch (RosterException e) {
      System.err.println("roster " + what + ": " + e.getMessage());
      return FAILED;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return FAILED;
    } catch (Exception e) {
      System.err.println("roster " + what + ": " + e);
      return FAILED;
    }
  }

  /**
   * A name for a table or a line (a key, a registry, an address): control characters and a
   * backslash escaped as a backslash, u and four hex digits, so that no key can move the terminal's cursor or forge a
   * line. {@code --json} gives names as they are.
   */
  static String text(String name) {
    if (name == null) {
      return "-";
    }
    StringBuilder out = null;
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (Character.isISOControl(c) || c == '\\' || Character.getType(c) == Character.FORMAT) {
        if (out == null) {
          out = new StringBuilder(name.length() + 8).append(name, 0, i);
        }
        out.append(String.format("\\u%04x", (int) c));
      } else if (out != null) {
        out.append(c);
      }
    }
    return out == null ? name : out.toString();
  }

  /**
   * A value for a table: its text when it is UTF-8 without control characters, else {@code base64:}
   * and its bytes; {@code -} for none.
   */
  static String value(byte[] value) {
    if (value == null) {
      return "-";
    }
    try {
      String text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(value)).toString();
      if (text.codePoints().noneMatch(c -> Character.isISOControl(c) || Character.getType(c) == Character.FORMAT)
          && !text.startsWith("base64:")) {
        return text;
      }
    } catch (CharacterCodingException binary) {
      // printed as base64
    }
    return "base64:" + java.util.Base64.getEncoder().encodeToString(value);
  }
}
