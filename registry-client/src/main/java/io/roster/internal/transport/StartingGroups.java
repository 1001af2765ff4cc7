package io.roster.internal.transport;

import java.util.function.Function;
import org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto;
import org.apache.ratis.proto.grpc.RaftServerProtocolServiceGrpc;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.thirdparty.io.grpc.ForwardingServerCallListener;
import org.apache.ratis.thirdparty.io.grpc.Metadata;
import org.apache.ratis.thirdparty.io.grpc.ServerCall;
import org.apache.ratis.thirdparty.io.grpc.ServerCallHandler;
import org.apache.ratis.thirdparty.io.grpc.ServerInterceptor;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds a leader's appends off a group that this voter is still starting (loading its log and
 * state machine): the append stream ends with {@code UNAVAILABLE} and the leader sends again, as
 * it does to a peer that is down. Ratis would answer such an append itself, but with an ERROR line
 * and a stack trace for what is only a peer restarting ("The server role is not yet initialized").
 *
 * <p>The same holds while the server stops: its groups close, and Ratis logs an append that reaches
 * a closing group at ERROR too.
 *
 * <p>A group seen started is not looked up again (a group removed and added back in the same
 * process may then log that ERROR once more). A group counts as starting until it takes a role, which Ratis sets shortly before its start
 * completes: an append arriving in that short gap still reaches Ratis and its ERROR line.
 */
public final class StartingGroups implements ServerInterceptor {
  private static final Logger LOG = LoggerFactory.getLogger(StartingGroups.class);

  private final String nodeId;
  /** Where a group stands on this voter. */
  public enum State {
    /** Not hosted here: Ratis answers its appends itself. */
    NOT_HOSTED,
    /** Hosted, still loading its log and state machine (no role yet). */
    STARTING,
    /** Hosted and started. */
    STARTED
  }

  /** Where each group stands on this voter. */
  private final Function<RaftGroupId, State> state;
  /** Groups seen started: their appends (the Raft port's most frequent request) pass without a lookup. */
  private final java.util.Set<RaftGroupId> started = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** Whether this voter's Raft server is stopping (closing or closed). */
  private final java.util.function.BooleanSupplier stopping;

  StartingGroups(String nodeId, Function<RaftGroupId, State> state, java.util.function.BooleanSupplier stopping) {
    this.nodeId = nodeId;
    this.state = state;
    this.stopping = stopping;
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
      ServerCallHandler<Q, A> next) {
    ServerCall.Listener<Q> listener = next.startCall(call, headers);
    if (!RaftServerProtocolServiceGrpc.SERVICE_NAME.equals(call.getMethodDescriptor().getServiceName())) {
      return listener;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      private boolean ended;

      @Override
      public void onMessage(Q message) {
        if (ended) {
          return;
        }
        if (message instanceof AppendEntriesRequestProto append) {
          if (stopping.getAsBoolean()) {
            // its groups are closing: Ratis would log the append at ERROR ("not in [STARTING, RUNNING]")
            ended = true;
            RaftAccess.close(call, Status.UNAVAILABLE.withDescription(nodeId + " is stopping"));
            return;
          }
          RaftGroupId group = RaftGroupId.valueOf(append.getServerRequest().getRaftGroupId().getId());
          if (started.contains(group)) {
            super.onMessage(message);
            return;
          }
          State now = state.apply(group);
          if (now == State.STARTING) {
            ended = true;
            LOG.debug("{}: append to {} held off: the group is starting here", nodeId, group);
            RaftAccess.close(call, Status.UNAVAILABLE.withDescription(nodeId + " is starting " + group));
            return;
          }
          if (now == State.STARTED) {
            started.add(group);
          }
        }
        super.onMessage(message);
      }

      @Override
      public void onHalfClose() {
        if (!ended) {
          super.onHalfClose();
        }
      }
    };
  }
}
