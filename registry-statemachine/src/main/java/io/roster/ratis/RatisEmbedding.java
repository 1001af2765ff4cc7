package io.roster.ratis;

import org.apache.ratis.util.ExitUtils;

/**
 * Makes Ratis fit to run inside an application's JVM. By default Ratis ends the JVM with
 * {@code System.exit} when it cannot start (a gRPC port already taken, say), and on first use it
 * installs a default uncaught-exception handler that ends the JVM when any thread of the
 * application throws. A library must do neither: here Ratis' failures become exceptions, and the
 * application's own handler (or the JVM's default) is put back.
 */
public final class RatisEmbedding {
  private static boolean done;

  private RatisEmbedding() {}

  /** Idempotent; call before starting a Ratis server or client. */
  public static synchronized void init() {
    if (done) {
      return;
    }
    Thread.UncaughtExceptionHandler before = Thread.getDefaultUncaughtExceptionHandler();
    ExitUtils.disableSystemExit(); // loads Ratis' exit state, which installs its handler if it was not loaded yet
    ExitUtils.setTerminateOnUncaughtException(false);
    boolean ratisHandler = before != null && before.getClass().getName().startsWith("org.apache.ratis.");
    Thread.setDefaultUncaughtExceptionHandler(ratisHandler ? null : before);
    done = true;
  }
}
