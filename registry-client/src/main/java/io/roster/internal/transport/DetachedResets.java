package io.roster.internal.transport;

import java.io.IOException;
import java.util.Collection;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClientRpc;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;

/**
 * A Ratis client's RPC whose reconnections do not hold up the request that asked for them.
 *
 * <p>When a try fails (a timeout on a frozen leader, say), Ratis' client picks another voter and
 * closes its channel to the old one before it schedules the retry, on the same thread; a channel to
 * a peer that does not answer takes 3 s to close (gRPC waits for its calls, then gives up), and all
 * that time the request waits, though it is bound for another voter. Here the channel closes on a
 * thread of its own and the retry goes at once. The fault suite measured the difference: a frozen
 * leader cost the writes of a client node 3 s more than the election did.
 */
final class DetachedResets implements RaftClientRpc {
  /** Closes channels; a thread per close at a time, idle ones end after a minute. */
  private static final ExecutorService CLOSER = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS,
      new SynchronousQueue<>(), r -> {
        Thread t = new Thread(r, "roster-channel-close");
        t.setDaemon(true);
        return t;
      });

  private final RaftClientRpc rpc;

  DetachedResets(RaftClientRpc rpc) {
    this.rpc = rpc;
  }

  @Override
  public CompletableFuture<RaftClientReply> sendRequestAsync(RaftClientRequest request) {
    return rpc.sendRequestAsync(request);
  }

  @Override
  public CompletableFuture<RaftClientReply> sendRequestAsyncUnordered(RaftClientRequest request) {
    return rpc.sendRequestAsyncUnordered(request);
  }

  @Override
  public RaftClientReply sendRequest(RaftClientRequest request) throws IOException {
    return rpc.sendRequest(request);
  }

  @Override
  public boolean handleException(RaftPeerId serverId, Throwable t, boolean reconnect) {
    if (reconnect || rpc.shouldReconnect(t)) {
      // the channel is dropped (a later request to that voter opens a new one) and closes meanwhile
      CLOSER.execute(() -> rpc.handleException(serverId, t, true));
      return true;
    }
    return rpc.handleException(serverId, t, false);
  }

  @Override
  public boolean shouldReconnect(Throwable t) {
    return rpc.shouldReconnect(t);
  }

  @Override
  public void addRaftPeers(Collection<RaftPeer> peers) {
    rpc.addRaftPeers(peers);
  }

  @Override
  public void close() throws IOException {
    rpc.close();
  }
}
