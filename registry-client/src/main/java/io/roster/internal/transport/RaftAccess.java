package io.roster.internal.transport;

import io.roster.Tls;
import io.roster.core.Authorization;
import io.roster.internal.RateLimitedLog;
import io.roster.proto.Query;
import io.roster.ratis.ClientIdentities;
import java.net.SocketAddress;
import java.security.cert.X509Certificate;
import org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto;
import org.apache.ratis.proto.RaftProtos.InstallSnapshotRequestProto;
import org.apache.ratis.proto.RaftProtos.RaftClientRequestProto;
import org.apache.ratis.proto.RaftProtos.RaftRpcRequestProto;
import org.apache.ratis.proto.RaftProtos.ReadIndexRequestProto;
import org.apache.ratis.proto.RaftProtos.RequestVoteRequestProto;
import org.apache.ratis.proto.RaftProtos.StartLeaderElectionRequestProto;
import org.apache.ratis.proto.grpc.AdminProtocolServiceGrpc;
import org.apache.ratis.proto.grpc.RaftClientProtocolServiceGrpc;
import org.apache.ratis.proto.grpc.RaftServerProtocolServiceGrpc;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.thirdparty.io.grpc.ForwardingServerCallListener;
import org.apache.ratis.thirdparty.io.grpc.Grpc;
import org.apache.ratis.thirdparty.io.grpc.Metadata;
import org.apache.ratis.thirdparty.io.grpc.ServerCall;
import org.apache.ratis.thirdparty.io.grpc.ServerCallHandler;
import org.apache.ratis.thirdparty.io.grpc.ServerInterceptor;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who may use which service of a voter's Raft port, decided from the certificate the caller
 * presented at the TLS handshake, before any request of the call is read:
 *
 * <ul>
 *   <li>Raft's peer service (append entries, votes, snapshots, read index, elections): the voters
 *       of the cluster only, and every request must name as its sender the voter whose certificate
 *       the connection presented: a voter cannot speak for another.
 *   <li>Ratis' admin service (group add and remove, membership, snapshots, leadership transfer):
 *       admin certificates only.
 *   <li>The client service (writes and queries): any certificate of the cluster's CA. Each
 *       request's client id is bound to the identity its connection authenticated as (a client id
 *       bound to another identity is refused), so that the leader's state machine decides every
 *       command for the identity that sent it ({@link Authorization}); a heartbeat is refused here
 *       unless it is for the sender's own session, and the whole state and the change stream unless
 *       the sender is a voter, an admin, or a node with an open session in the group asked.
 * </ul>
 *
 * <p>The peer's certificate is checked again while its connection is in use, at most once a second
 * ({@link NodeTls.Server#distrust}): a revoked or expired certificate loses its calls at their next request.
 *
 * <p>A refused call ends with {@code PERMISSION_DENIED}; refusals are logged at WARN, rate-limited,
 * naming the peer's address and identity.
 */
public final class RaftAccess implements ServerInterceptor {
  private static final Logger LOG = LoggerFactory.getLogger(RaftAccess.class);

  private final String nodeId;
  /** Whether an id is one of the cluster's voters: configured, or in a hosted group's current configuration. */
  private final java.util.function.Predicate<String> voter;
  private final ClientIdentities identities;
  /** Whether a voter is in the configuration of a group this server hosts (true if the group is not hosted). */
  private final java.util.function.BiPredicate<RaftGroupId, String> groupVoter;
  /** Whether a node holds an open session in a group this server hosts. */
  private final java.util.function.BiPredicate<RaftGroupId, String> members;
  /** The server's TLS, to check a peer again while its connection is in use. */
  private final NodeTls.Server tls;
  private final RateLimitedLog refusals = new RateLimitedLog(LOG, 10_000);

  RaftAccess(String nodeId, java.util.function.Predicate<String> voter, ClientIdentities identities,
      java.util.function.BiPredicate<RaftGroupId, String> members, NodeTls.Server tls,
      java.util.function.BiPredicate<RaftGroupId, String> groupVoter) {
    this.groupVoter = groupVoter;
    this.tls = tls;
    this.nodeId = nodeId;
    this.voter = voter;
    this.identities = identities;
    this.members = members;
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
      ServerCallHandler<Q, A> next) {
    X509Certificate cert = NodeTls.peer(call.getAttributes());
    SocketAddress from = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    if (cert == null) {
      return refuse(call, from, "?", "no client certificate");
    }
    String distrust = tls.distrust(call.getAttributes());
    if (distrust != null) {
      return refuse(call, from, "?", distrust);
    }
    String id;
    Tls.CertRole role;
    try {
      id = Tls.nodeId(cert);
      role = Tls.role(cert);
    } catch (IllegalArgumentException e) {
      return refuse(call, from, "?", e.getMessage());
    }
    if (role != Tls.CertRole.VOTER && voter.test(id)) {
      return refuse(call, from, id, "the id of a configured voter on a " + role + " certificate");
    }
    String service = call.getMethodDescriptor().getServiceName();
    if (RaftServerProtocolServiceGrpc.SERVICE_NAME.equals(service)) {
      if (role != Tls.CertRole.VOTER || !voter.test(id)) {
        return refuse(call, from, id, "Raft's peer service is for the cluster's voters");
      }
      return new Checked<>(next.startCall(call, headers), call, from, id, m -> senderRefusal(m, id));
    }
    if (AdminProtocolServiceGrpc.SERVICE_NAME.equals(service)) {
      if (role != Tls.CertRole.ADMIN) {
        return refuse(call, from, id, "Ratis' admin service needs an admin certificate");
      }
      return next.startCall(call, headers);
    }
    if (RaftClientProtocolServiceGrpc.SERVICE_NAME.equals(service)) {
      // a voter certificate whose id is not a voter counts as a client; judged at each request, since
      // a stream opened before its node was added as a voter carries its requests after that too
      java.util.function.Supplier<Authorization.Identity> who = () -> new Authorization.Identity(id, switch (role) {
        case VOTER -> voter.test(id) ? Authorization.Identity.Kind.VOTER : Authorization.Identity.Kind.CLIENT;
        case CLIENT -> Authorization.Identity.Kind.CLIENT;
        case ADMIN -> Authorization.Identity.Kind.ADMIN;
      });
      return new Checked<>(next.startCall(call, headers), call, from, id, m -> clientRefusal(m, who.get()));
    }
    return refuse(call, from, id, "unknown service " + service);
  }

  /**
   * Ends a call with {@code status}, unless it has ended already: another gate on the same call
   * ({@link StartingGroups}) may have ended it while its later messages were still on their way.
   */
  static void close(ServerCall<?, ?> call, Status status) {
    try {
      call.close(status, new Metadata());
    } catch (IllegalStateException alreadyClosed) {
      // ended by the other gate: nothing more to say
    }
  }

  /**
   * Whether a call failed because a voter's gate refused it: {@code PERMISSION_DENIED} anywhere in
   * its causes (Ratis' client passes the gRPC status on in an exception's message).
   */
  public static boolean refused(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (String.valueOf(t.getMessage()).contains("PERMISSION_DENIED")) {
        return true;
      }
    }
    return false;
  }

  private <Q, A> ServerCall.Listener<Q> refuse(ServerCall<Q, A> call, SocketAddress from, String id, String why) {
    refusals.warn("{}: refused {} from {} ({}): {}", nodeId, call.getMethodDescriptor().getFullMethodName(), from,
        id, why);
    call.close(Status.PERMISSION_DENIED.withDescription(why), new Metadata());
    return new ServerCall.Listener<>() {};
  }

  /**
   * Ends a call at its first request that {@code check} refuses (its reason; null lets it through),
   * before the request reaches Ratis.
   */
  private final class Checked<Q, A> extends ForwardingServerCallListener.SimpleForwardingServerCallListener<Q> {
    private final ServerCall<Q, A> call;
    private final SocketAddress from;
    private final Object who;
    private final java.util.function.Function<Object, String> check;
    private boolean refused;

    Checked(ServerCall.Listener<Q> delegate, ServerCall<Q, A> call, SocketAddress from, Object who,
        java.util.function.Function<Object, String> check) {
      super(delegate);
      this.call = call;
      this.from = from;
      this.who = who;
      this.check = check;
    }

    @Override
    public void onMessage(Q message) {
      if (refused) {
        return;
      }
      String why = tls.distrust(call.getAttributes());
      if (why == null) {
        why = check.apply(message);
      }
      if (why != null) {
        refused = true;
        refusals.warn("{}: refused {} from {} ({}): {}", nodeId, call.getMethodDescriptor().getFullMethodName(), from,
            who, why);
        close(call, Status.PERMISSION_DENIED.withDescription(why));
        return;
      }
      super.onMessage(message);
    }

    @Override
    public void onHalfClose() {
      if (!refused) {
        super.onHalfClose();
      }
    }
  }

  /** Why a peer-service request may not go: it names a sender other than the certificate's voter. */
  private String senderRefusal(Object message, String id) {
    RaftRpcRequestProto header = header(message);
    String sender = header == null ? null : header.getRequestorId().toStringUtf8();
    if (!id.equals(sender)) {
      return "voter " + id + " cannot send for " + sender;
    }
    if (message instanceof RequestVoteRequestProto || message instanceof StartLeaderElectionRequestProto) {
      // a candidate outside the group's configuration (not added yet, or removed, its data lost) does
      // not campaign here: Ratis would answer a removed one by shutting its group down
      RaftGroupId group = RaftGroupId.valueOf(header.getRaftGroupId().getId());
      if (!groupVoter.test(group, id)) {
        return "voter " + id + " is not in the configuration of " + group + " here";
      }
    }
    return null;
  }

  /**
   * Why a client-service request may not go: its client id is bound to another identity (it is
   * bound to {@code who} here if it was to none), or it is a heartbeat for another node's session.
   */
  private String clientRefusal(Object message, Authorization.Identity who) {
    if (!(message instanceof RaftClientRequestProto request)) {
      return "not a client request";
    }
    // Roster sends writes, reads, stale reads and watches; a forwarded request would be judged by
    // its inner client id, which this gate never bound, and Ratis keeps unfinished message streams
    // in the leader's memory without a bound
    switch (request.getTypeCase()) {
      case WRITE, READ, STALEREAD, WATCH -> { }
      default -> {
        return "request type " + request.getTypeCase() + " is not served";
      }
    }
    ClientId client = ClientId.valueOf(request.getRpcRequest().getRequestorId());
    if (!identities.bind(client, who)) {
      return "client id " + client + " belongs to another identity";
    }
    if (request.hasRead() || request.hasStaleRead()) {
      try {
        RaftGroupId group = RaftGroupId.valueOf(request.getRpcRequest().getRaftGroupId().getId());
        return Authorization.refusal(Query.parseFrom(request.getMessage().getContent().toByteArray()), who,
            () -> members.test(group, who.nodeId()));
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        return null; // the state machine answers a query that does not decode
      }
    }
    return null;
  }

  private static RaftRpcRequestProto header(Object message) {
    if (message instanceof AppendEntriesRequestProto m) {
      return m.getServerRequest();
    }
    if (message instanceof RequestVoteRequestProto m) {
      return m.getServerRequest();
    }
    if (message instanceof InstallSnapshotRequestProto m) {
      return m.getServerRequest();
    }
    if (message instanceof ReadIndexRequestProto m) {
      return m.getServerRequest();
    }
    if (message instanceof StartLeaderElectionRequestProto m) {
      return m.getServerRequest();
    }
    return null;
  }
}
