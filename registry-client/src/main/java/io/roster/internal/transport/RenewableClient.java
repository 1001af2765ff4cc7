package io.roster.internal.transport;

import io.roster.internal.Failures;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.IntFunction;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.AlreadyClosedException;
import org.apache.ratis.protocol.exceptions.GroupMismatchException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Ratis client that is replaced when it cannot serve, and is closed only once the requests it
 * carries are done.
 *
 * <p>Replaced: a request that meets {@link GroupMismatchException} (a voter that does not host the
 * group yet, such as a new partition group) or {@link AlreadyClosedException} makes the next request
 * go through a new client that first tries another voter; and {@link #call} with a known leader the
 * client does not aim at swaps in a client that tries that leader first.
 *
 * <p>Closed when drained: Ratis logs at ERROR, with a stack trace, every retry of a request whose
 * client was closed meanwhile. So a replaced client closes once its last request completes (or
 * after {@code retireMillis}, when every request it carried has had all its tries), and
 * {@link #close()} first stops retries, then waits (at most {@code drainMillis}) for the requests
 * in flight to end before it closes the clients.
 */
public final class RenewableClient implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RenewableClient.class);

  private final String name;
  /** The voter the n-th client (0 first) tries first; null for Ratis' choice. */
  private final IntFunction<RaftPeerId> firstTry;
  /** Makes a client that tries the given voter first and stops retrying once the supplier says so. */
  private final BiFunction<RaftPeerId, BooleanSupplier, RaftClient> factory;
  /** How long a replaced client stays open at most for the requests it still carries. */
  private final long retireMillis;
  /** How long {@link #close()} waits at most for requests in flight (retries stopped). */
  private final long drainMillis;
  /** Requests in flight per client made here, current or replaced. */
  private final Map<RaftClient, Set<CompletableFuture<?>>> inFlight = new ConcurrentHashMap<>();
  /** Replaced clients, closed when drained (or at their deadline) or with this one. */
  private final Map<RaftClient, Boolean> retiring = new ConcurrentHashMap<>();
  private int renewals;
  private RaftClient client;
  /** The leader a client was last made for by {@link #call}: one replacement per leader change. */
  private RaftPeerId aimedAt;
  private volatile boolean closed;

  public RenewableClient(String name, IntFunction<RaftPeerId> firstTry,
      BiFunction<RaftPeerId, BooleanSupplier, RaftClient> factory, long retireMillis, long drainMillis) {
    this.name = name;
    this.firstTry = firstTry;
    this.factory = factory;
    this.retireMillis = retireMillis;
    this.drainMillis = drainMillis;
    this.client = make(firstTry.apply(0));
  }

  private RaftClient make(RaftPeerId first) {
    RaftClient made = factory.apply(first, () -> closed);
    inFlight.put(made, ConcurrentHashMap.newKeySet());
    return made;
  }

  /**
   * Sends one request through the current client, first replaced by one that tries {@code leader}
   * when this node knows a leader the client does not aim at (a leader change, or a new group's first
   * leader): a request to a voter that is not the leader costs a round trip.
   *
   * @param leader the leader this node knows, or empty to use the current client as it is
   */
  public <T> CompletableFuture<T> call(Optional<RaftPeerId> leader, Function<RaftClient, CompletableFuture<T>> request) {
    RaftClient used;
    Set<CompletableFuture<?>> carried;
    CompletableFuture<T> result = new CompletableFuture<>();
    synchronized (this) {
      if (closed) {
        return CompletableFuture.failedFuture(new IllegalStateException(name + " is closed"));
      }
      if (leader.isPresent() && leader.get().equals(client.getLeaderId())) {
        // the client aims there already: this hint is taken, and once the client moves on (it
        // found another leader) the same hint, now stale, does not send it back
        aimedAt = leader.get();
      } else if (leader.isPresent() && !leader.get().equals(aimedAt)) {
        aimedAt = leader.get();
        retire(client);
        client = make(aimedAt);
        LOG.debug("{}: the leader is {}; using a client that tries it first", name, aimedAt);
      }
      used = client;
      carried = inFlight.get(used);
      carried.add(result);
    }
    CompletableFuture<T> sent;
    try {
      sent = request.apply(used);
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    sent.whenComplete((r, e) -> {
      if (e != null) {
        failed(used, e);
      }
      carried.remove(result);
      if (carried.isEmpty() && retiring.containsKey(used)) {
        closeLater(used);
      }
      if (e != null) {
        result.completeExceptionally(e);
      } else {
        result.complete(r);
      }
    });
    return result;
  }

  /** The current client, for what it knows (its leader); requests go through {@link #call}. */
  public synchronized RaftClient get() {
    return client;
  }

  /**
   * A request sent through {@code used} failed: if the failure says that client cannot serve the
   * group, a new one replaces it (once, however many requests report it).
   */
  private void failed(RaftClient used, Throwable failure) {
    if (!closedByRatis(failure)) {
      return;
    }
    synchronized (this) {
      if (closed || used != client) {
        return;
      }
      retire(client);
      client = make(firstTry.apply(++renewals));
    }
    LOG.debug("{}: {}; using a new client", name, failure.toString());
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

  /** Called under the lock: {@code old} is replaced; it closes once drained, or at its deadline. */
  private void retire(RaftClient old) {
    retiring.put(old, Boolean.TRUE);
    if (inFlight.get(old).isEmpty()) {
      closeLater(old);
    } else {
      CompletableFuture.delayedExecutor(retireMillis, TimeUnit.MILLISECONDS).execute(() -> closeNow(old));
    }
  }

  /** Closing waits for the client's channels: never on the caller's thread (a Ratis or scheduler thread). */
  private void closeLater(RaftClient c) {
    CompletableFuture.runAsync(() -> closeNow(c));
  }

  private void closeNow(RaftClient c) {
    if (retiring.remove(c) != null) {
      inFlight.remove(c);
      Failures.closeQuietly(c);
    }
  }

  /** Refuses new requests and stops the retries of those in flight; {@link #close()} then drains. */
  public synchronized void stop() {
    closed = true;
  }

  /** Stops retries, waits at most the drain time for the requests in flight, then closes every client. */
  @Override
  public void close() {
    synchronized (this) {
      closed = true;
      retiring.put(client, Boolean.TRUE);
    }
    CompletableFuture<?>[] carried = inFlight.values().stream().flatMap(Set::stream).toArray(CompletableFuture[]::new);
    try {
      CompletableFuture.allOf(carried).get(drainMillis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      // a failed request, or one still trying at the bound: close anyway
    }
    for (RaftClient c : java.util.List.copyOf(retiring.keySet())) {
      closeNow(c);
    }
  }
}
