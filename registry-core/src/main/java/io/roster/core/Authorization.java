package io.roster.core;

import io.roster.proto.Command;
import io.roster.proto.PidProto;
import io.roster.proto.Query;

/**
 * Who may send which command, decided from the identity the sender's certificate proved. The
 * leader decides before it appends an entry ({@code RegistryStateMachine.startTransaction}), so
 * the log holds only authorized commands and followers apply what was committed. Pure: no Ratis,
 * clock or I/O.
 *
 * <ul>
 *   <li>A node writes only for its own pids (register, unregister, update, locks, a process's
 *       death) and opens only its own session.
 *   <li>A node's session is ended by the node itself (its goodbye) or by the group's leader's
 *       expiry duty: the leader's own identity, decided in the term the entry is appended in.
 *   <li>A partitioned registry (Raft groups of its own) is created by a voter or an admin; a client
 *       node may open one that exists (its creation command is then a no-op). An unpartitioned
 *       registry, a namespace in the cluster's group, is created by any member, as
 *       {@code node.registry(name)} does when it is missing. Metadata: any member.
 *   <li>A heartbeat keeps only the sender's own session alive.
 *   <li>The whole state ({@code Dump}), the registries' list and the change stream go to members only: the voters, admin
 *       certificates, and client nodes while they hold an open session in the group. A node whose
 *       session expired (declared dead) or that never joined reads no more than single keys.
 * </ul>
 */
public final class Authorization {
  private Authorization() {}

  /**
   * What the leader's refusal of an entry starts with: Ratis carries it to the client only as an
   * exception's message, where the writer finds it to throw {@code NotAuthorizedException}.
   */
  public static final String REFUSED = "NOT_AUTHORIZED: ";

  /** What a certificate proved: the node id (its CN) and its role (its OU). */
  public record Identity(String nodeId, Kind kind) {
    /** The certificate's role: a configured voter, a client node, or an operator's admin certificate. */
    public enum Kind {
      /** A voter of the cluster (a voter certificate whose id is a configured voter). */
      VOTER,
      /** A client node, or a voter certificate of an id that is not a voter. */
      CLIENT,
      /** An operator's tool. */
      ADMIN
    }

    @Override
    public String toString() {
      return nodeId + " (" + kind.name().toLowerCase(java.util.Locale.ROOT) + ")";
    }
  }

  /**
   * Why {@code who} may not send {@code command} to the leader {@code leader} in term
   * {@code term}, with the leader's applied {@code state}, or null if it may.
   */
  public static String refusal(Command command, Identity who, String leader, long term, StateView state) {
    switch (command.getKindCase()) {
      case REGISTER:
        return own(command.getRegister().getPid(), who);
      case UNREGISTER:
        return own(command.getUnregister().getPid(), who);
      case UNREGISTER_PID:
        return own(command.getUnregisterPid().getPid(), who);
      case UPDATE_VALUE:
        return own(command.getUpdateValue().getPid(), who);
      case ACQUIRE_LOCK:
        return own(command.getAcquireLock().getPid(), who);
      case RELEASE_LOCK:
        return own(command.getReleaseLock().getPid(), who);
      case OPEN_SESSION:
        return command.getOpenSession().getNodeId().equals(who.nodeId()) ? null
            : who + " may not open the session of node " + command.getOpenSession().getNodeId();
      case EXPIRE_SESSION: {
        var e = command.getExpireSession();
        if (e.getNodeId().equals(who.nodeId())) {
          return null; // its own goodbye
        }
        if (who.nodeId().equals(leader) && who.kind() == Identity.Kind.VOTER && e.getLeaderTerm() == term && term > 0) {
          return null; // the leader's expiry duty, in the term it decided in
        }
        return who + " may not end the session of node " + e.getNodeId() + ": only that node, or the leader's own "
            + "expiry in its current term, does";
      }
      case CREATE_REGISTRY:
        return command.getCreateRegistry().getPartitions() > 1 && who.kind() == Identity.Kind.CLIENT
            && state.registry(command.getCreateRegistry().getRegistry()) == null
            ? who + " may not create the partitioned registry '" + command.getCreateRegistry().getRegistry()
                + "' (Raft groups of its own): that needs a voter or admin certificate"
            : null;
      case DIGEST_CHECK:
        // every peer reads its whole state for it: not a client's to ask
        return who.kind() == Identity.Kind.CLIENT ? who + " may not ask for a digest check: voters and admins do"
            : null;
      default:
        return null; // metadata is any member's; an unknown command is refused by the core
    }
  }

  /**
   * Why {@code who} may not send an entry tagged as written by {@code writer}, or null if it may:
   * a node numbers its own entries only, so no other node can make a peer skip them as repeats.
   */
  public static String refusal(io.roster.proto.WriterTag writer, Identity who) {
    return writer.getNodeId().equals(who.nodeId()) ? null
        : who + " may not send entries as the writer of node " + writer.getNodeId();
  }

  /**
   * Why {@code who} may not send {@code query}, or null if it may; {@code member} tells whether
   * {@code who}'s node holds an open session in the group asked (asked only when it matters).
   */
  public static String refusal(Query query, Identity who, java.util.function.BooleanSupplier member) {
    if (query.hasHeartbeat() && !query.getHeartbeat().getNodeId().equals(who.nodeId())) {
      return who + " may not heartbeat for node " + query.getHeartbeat().getNodeId();
    }
    if ((query.hasDump() || query.hasChanges() || query.hasRegistries()) && who.kind() == Identity.Kind.CLIENT
        && !member.getAsBoolean()) {
      return who + " is not a member of this group (no open session in it): the whole state and the change "
          + "stream are served to voters, admins and nodes with an open session only";
    }
    if (query.hasStoreCopy() && who.kind() != Identity.Kind.ADMIN) {
      return who + " may not copy a replica's store: admin certificates do (roster snapshot save)";
    }
    if (query.hasDigestAt() && who.kind() == Identity.Kind.CLIENT) {
      return who + " may not ask for a replica's digest: voters and admins do";
    }
    return null; // reads by key and barriers: any certificate of the cluster's CA
  }

  private static String own(PidProto pid, Identity who) {
    return pid.getNodeId().equals(who.nodeId()) ? null
        : who + " may not write for a process of node " + pid.getNodeId();
  }
}
