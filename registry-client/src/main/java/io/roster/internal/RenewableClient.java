package io.roster.internal;

import java.util.concurrent.CompletableFuture;
import java.util.function.IntFunction;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.exceptions.AlreadyClosedException;
import org.apache.ratis.protocol.exceptions.GroupMismatchException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Ratis client that is replaced when Ratis closes it. A Ratis client's ordered requests treat
 * {@link GroupMismatchException} (a server that does not host the group, such as a voter that has
 * not yet added a partition group) as fatal and close the client for good; every later request
 * then fails with {@link AlreadyClosedException}. The holder of this object reports failures, and
 * the next request goes through a new client, which first tries another voter (the broken one
 * may have been sent to a voter that does not host the group yet).
 */
final class RenewableClient implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RenewableClient.class);

  private final String name;
  /** Makes the n-th client (0 first): n picks the voter it tries first. */
  private final IntFunction<RaftClient> factory;
  private int renewals;
  private RaftClient client;
  private boolean closed;

  RenewableClient(String name, IntFunction<RaftClient> factory) {
    this.name = name;
    this.factory = factory;
    this.client = factory.apply(0);
  }

  /** The current client; fetch it for each request. */
  synchronized RaftClient get() {
    return client;
  }

  /**
   * Called with the failure of a request sent through {@code used}: if it says Ratis closed that
   * client, a new one replaces it (once, however many requests report it).
   */
  void failed(RaftClient used, Throwable failure) {
    if (!closedByRatis(failure)) {
      return;
    }
    RaftClient broken;
    synchronized (this) {
      if (closed || used != client) {
        return;
      }
      broken = client;
      client = factory.apply(++renewals);
    }
    LOG.debug("{}: Ratis closed its client ({}); using a new one", name, failure.toString());
    // Closing waits for the client's channels; never on the caller's thread (a Ratis or scheduler thread).
    CompletableFuture.runAsync(() -> Node.closeQuietly(broken));
  }

  static boolean closedByRatis(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof AlreadyClosedException || t instanceof GroupMismatchException) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }

  @Override
  public void close() {
    RaftClient last;
    synchronized (this) {
      closed = true;
      last = client;
    }
    Node.closeQuietly(last);
  }
}
