package io.roster.internal;

import io.roster.RosterException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** What a failure says and where it came from: helpers every part of a node uses. */
public final class Failures {
  private static final Logger LOG = LoggerFactory.getLogger(Failures.class);

  private Failures() {}

  /** The messages of a failure and its causes, so that the root cause (a port in use, say) shows. */
  public static String causes(Throwable e) {
    StringBuilder b = new StringBuilder(String.valueOf(e.getMessage()));
    for (Throwable t = e.getCause(); t != null && t != t.getCause(); t = t.getCause()) {
      b.append(": ").append(t.getMessage());
    }
    return b.toString();
  }

  /** What a future failed with: the cause a {@link CompletionException} wraps, or the failure itself. */
  public static Throwable cause(Throwable error) {
    return error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
  }

  /** Unwraps the exception a future completed with, for blocking callers. */
  public static RuntimeException unwrap(Throwable t) {
    Throwable cause = t instanceof CompletionException || t instanceof ExecutionException ? t.getCause() : t;
    if (cause instanceof RuntimeException r) {
      return r;
    }
    return new RosterException(String.valueOf(cause), cause);
  }

  /** Closes {@code c} (if not null), logging a failure at WARN instead of throwing it. */
  public static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      LOG.warn("close of {} failed: {}", c, e.toString());
    }
  }
}
