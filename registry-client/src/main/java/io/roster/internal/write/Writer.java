package io.roster.internal.write;

import io.roster.AlreadyRegisteredException;
import io.roster.LimitExceededException;
import io.roster.NotOwnerException;
import io.roster.RegistryUnavailableException;
import io.roster.RosterException;
import io.roster.SessionExpiredException;
import io.roster.internal.BatchSettings;
import io.roster.internal.Failures;
import io.roster.internal.transport.RenewableClient;
import io.roster.proto.BatchResult;
import io.roster.proto.Command;
import io.roster.proto.Result;
import io.roster.schema.Codec;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.ratis.client.impl.RaftClientImpl;
import org.apache.ratis.client.impl.UnorderedAsync;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * Sends commands to the leader, through group commit, and turns their results into values or
 * exceptions.
 */
public final class Writer implements AutoCloseable {
  private final RenewableClient client;
  private final long timeoutMillis;
  private final GroupCommit groupCommit;
  /** The group's voters, for errors: "n1, n2, n3". */
  private final String voters;
  /** The leader this node knows without asking Ratis, if any: entries go there first. */
  private final java.util.function.Supplier<java.util.Optional<org.apache.ratis.protocol.RaftPeerId>> knownLeader;

  public Writer(String name, String nodeId, RenewableClient client, long timeoutMillis, BatchSettings batching, String voters,
      java.util.function.Supplier<java.util.Optional<org.apache.ratis.protocol.RaftPeerId>> knownLeader) {
    this.client = client;
    this.timeoutMillis = timeoutMillis;
    this.voters = voters;
    this.knownLeader = knownLeader;
    this.groupCommit = new GroupCommit(name, nodeId, batching, this::sendEntry);
  }

  /**
   * Completes with the command's result once its entry is committed and applied; exceptionally
   * with {@link RegistryUnavailableException} after the timeout, or {@link io.roster.LimitExceededException}
   * if the write queue is full.
   */
  public CompletableFuture<Result> submit(Command command) {
    return submit(command, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
  }

  /**
   * {@link #submit(Command)} within a deadline the caller set ({@link System#nanoTime}): a write's
   * one deadline covers its wait for the session and its commit.
   */
  public CompletableFuture<Result> submit(Command command, long deadlineNanos) {
    return groupCommit.submit(command, deadlineNanos).handle((r, error) -> {
      if (error == null) {
        return r;
      }
      Throwable cause = Failures.cause(error);
      if (cause instanceof RosterException re) {
        throw re; // already says what happened (unavailable, queue full, refused entry)
      }
      if (cause instanceof IllegalStateException closed) {
        throw closed;
      }
      throw unavailable(cause);
    });
  }

  /**
   * Ships one encoded entry (a batch of commands) to the leader, unordered: group commit keeps one
   * entry in flight, so a node's entries reach the log in the order it made them without Ratis'
   * ordered sliding window, whose every failed attempt (a leader change, a voter restarting) Ratis
   * logs at ERROR with a stack trace. Ratis retries an unordered write under the same call id, so
   * the leader's retry cache answers a retry of an entry it applied; the entry's writer tag makes
   * the peers apply it once when the retry is appended all the same (a leader change).
   */
  private CompletableFuture<BatchResult> sendEntry(byte[] entry) {
    Message message = Message.valueOf(UnsafeByteOperations.unsafeWrap(entry));
    return client.call(knownLeader.get(),
        used -> UnorderedAsync.send(RaftClientRequest.writeRequestType(), message, null, (RaftClientImpl) used)
    ).thenApply(reply -> {
      if (!reply.isSuccess()) {
        throw unavailable(reply.getException());
      }
      try {
        return BatchResult.parseFrom(reply.getMessage().getContent().toByteArray());
      } catch (Exception e) {
        throw new RosterException("the leader's reply does not decode: " + e, e);
      }
    });
  }

  /** The writes waiting for a batch. */
  public int queued() {
    return groupCommit.queued();
  }

  /** {@code listener} learns each batch's command count as it is sent. */
  public void onBatch(java.util.function.IntConsumer listener) {
    groupCommit.onBatch(listener);
  }

  @Override
  public void close() {
    groupCommit.close();
  }

  /** Says in Roster's words that no leader committed the write; Ratis' exception is the cause. */
  private RosterException unavailable(Throwable error) {
    Throwable cause = Failures.cause(error);
    if (cause instanceof org.apache.ratis.protocol.exceptions.StateMachineException refused) {
      String message = String.valueOf(refused.getMessage());
      String mark = io.roster.core.Authorization.REFUSED;
      int at = message.indexOf(mark);
      if (at >= 0) {
        return new io.roster.NotAuthorizedException("not authorized: " + message.substring(at + mark.length()));
      }
      return new RosterException("the leader refused the entry: " + message, refused);
    }
    return unavailable("the write was not committed within " + timeoutMillis + " ms", voters,
        client.get().getLeaderId(), cause);
  }

  /**
   * "No leader or no quorum", with what was tried: the voters, the one last tried and the kind of
   * Ratis failure (whose whole text stays in the chained cause).
   */
  public static RegistryUnavailableException unavailable(String what, String voters, Object lastTried, Throwable cause) {
    StringBuilder b = new StringBuilder("no leader or no quorum: ").append(what).append(" (voters ").append(voters);
    if (lastTried != null) {
      b.append("; last tried ").append(lastTried);
    }
    if (cause != null && !(cause instanceof TimeoutException)) {
      b.append("; ").append(cause.getClass().getSimpleName());
    }
    return new RegistryUnavailableException(b.append(')').toString(), cause);
  }

  /** The revision of an OK result, or the exception its status stands for. */
  public static long revisionOrThrow(Result r, String key) {
    switch (r.getStatus()) {
      case OK:
        return r.getRevision();
      case ALREADY_REGISTERED:
        throw new AlreadyRegisteredException(key, Codec.fromProto(r.getOwner()));
      case NOT_OWNER:
        throw new NotOwnerException(r.getDetail(), r.hasOwner() ? Codec.fromProto(r.getOwner()) : null);
      case LIMIT_EXCEEDED:
        throw new LimitExceededException(r.getDetail());
      case SESSION_EXPIRED:
        throw new SessionExpiredException(r.getDetail());
      case REPLAYED:
        throw new RosterException("the leader restarted and replayed this write from its log; its outcome is "
            + "unknown: read to find out");
      case INVALID_ARGUMENT:
      case REGISTRY_MISMATCH:
      case WRONG_MODE:
        throw new IllegalArgumentException(r.getDetail());
      default:
        throw new RosterException(r.getStatus() + ": " + r.getDetail());
    }
  }

}
