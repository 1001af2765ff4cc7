package io.roster.internal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.IntFunction;
import org.apache.ratis.protocol.RaftPeerId;
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
  /** The voter the n-th client (0 first) tries first; null for Ratis' choice. */
  private final IntFunction<RaftPeerId> firstTry;
  /** Makes a client that tries the given voter first. */
  private final Function<RaftPeerId, RaftClient> factory;
  /** How long a replaced client stays open for the requests it still carries. */
  private final long retireMillis;
  private int renewals;
  private RaftClient client;
  /** The leader a client was last made for by {@link #toward}: one replacement per leader change. */
  private RaftPeerId aimedAt;
  /** Clients replaced by {@link #toward}, closed once their requests are done, or with this one. */
  private final java.util.Set<RaftClient> retiring = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private boolean closed;

  RenewableClient(String name, IntFunction<RaftPeerId> firstTry, Function<RaftPeerId, RaftClient> factory,
      long retireMillis) {
    this.name = name;
    this.firstTry = firstTry;
    this.factory = factory;
    this.retireMillis = retireMillis;
    this.client = factory.apply(firstTry.apply(0));
  }

  /**
   * The current client, replaced first by one that tries {@code leader} when this node knows a
   * leader the client does not (a leader change, or a new group's first leader): Ratis logs at ERROR
   * every ordered request that meets a voter which is not the leader, and costs a round trip.
   */
  RaftClient toward(java.util.Optional<RaftPeerId> leader) {
    RaftClient retired;
    RaftClient current;
    synchronized (this) {
      if (closed || leader.isEmpty() || leader.get().equals(client.getLeaderId()) || leader.get().equals(aimedAt)) {
        return client;
      }
      aimedAt = leader.get();
      retired = client;
      client = factory.apply(aimedAt);
      current = client;
    }
    LOG.debug("{}: the leader is {}; using a client that tries it first", name, current.getLeaderId());
    retiring.add(retired);
    CompletableFuture.delayedExecutor(retireMillis, TimeUnit.MILLISECONDS).execute(() -> {
      if (retiring.remove(retired)) {
        Node.closeQuietly(retired);
      }
    });
    return current;
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
      client = factory.apply(firstTry.apply(++renewals));
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
    for (RaftClient r : java.util.List.copyOf(retiring)) {
      if (retiring.remove(r)) {
        Node.closeQuietly(r);
      }
    }
  }
}
