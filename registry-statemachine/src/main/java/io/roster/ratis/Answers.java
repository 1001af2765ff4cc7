package io.roster.ratis;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.roster.mirror.ChangeHistory;
import io.roster.mirror.Mirror;
import io.roster.proto.Changes;
import io.roster.proto.Entry;
import io.roster.proto.Heartbeat;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.Status;
import io.roster.schema.Codec;
import io.roster.schema.Registration;
import io.roster.schema.Session;
import java.util.concurrent.CompletableFuture;
import org.apache.ratis.protocol.Message;

/**
 * The answers of the queries that need no more than their arguments: reads from a mirror, the
 * change stream's long poll, a heartbeat to the leader; and the framing of every answer as a Ratis
 * message. {@link RegistryStateMachine#query} dispatches to them.
 */
final class Answers {
  private Answers() {}

  static final int CHANGES_PER_ANSWER_MAX = 1024;
  static final int CHANGES_WAIT_MILLIS_MAX = 5_000;

  /** The change stream: entries after an index, waiting (bounded) when there are none yet. */
  static CompletableFuture<Message> changes(ChangeHistory history, Changes c) {
    int max = c.getMaxEntries() == 0 ? CHANGES_PER_ANSWER_MAX : Math.min(c.getMaxEntries(), CHANGES_PER_ANSWER_MAX);
    CompletableFuture<Void> next = history.nextChange(); // taken before reading, so no append is missed
    ChangeHistory.Slice slice = history.after(c.getFromIndex(), max);
    if (slice == null) {
      return reply(QueryResult.newBuilder().setStatus(Status.COMPACTED).setAppliedIndex(history.appliedIndex())
          .setDetail("index " + c.getFromIndex() + " is older than this peer's change history").build());
    }
    int wait = Math.min(c.getWaitMillis(), CHANGES_WAIT_MILLIS_MAX);
    // answer at once when there is news: changes, or only a higher applied index (entries that
    // changed nothing, which a reader waiting for that index needs to hear of just as much)
    if (!slice.entries().isEmpty() || slice.appliedIndex() > c.getFromIndex() || wait == 0) {
      return reply(QueryResult.newBuilder().setStatus(Status.OK).setAppliedIndex(slice.appliedIndex())
          .addAllChangeEntries(slice.entries()).build());
    }
    Changes again = c.toBuilder().setWaitMillis(0).build();
    // a copy: completing the shared future on timeout would wake every later poll at once
    return next.copy().completeOnTimeout(null, wait, java.util.concurrent.TimeUnit.MILLISECONDS)
        .thenCompose(v -> changes(history, again));
  }

  /**
   * Records a node's heartbeat (leader only) and tells it whether its session is still open, and how
   * recently this leader had heard from a majority ({@link LeaderContact}; none if unknown).
   */
  static QueryResult heartbeat(SessionTracker sessions, Mirror m, Heartbeat h,
      java.util.function.Supplier<java.util.Optional<io.roster.proto.LeaderContact>> contact) {
    QueryResult.Builder b = QueryResult.newBuilder().setAppliedIndex(m.appliedIndex());
    java.util.Optional<io.roster.proto.LeaderContact> leader = sessions.leader() ? contact.get() : java.util.Optional.empty();
    if (leader.isEmpty()) { // not the ready leader (its tracker may not know yet that it stepped down)
      return b.setStatus(Status.NOT_LEADER).setDetail("heartbeats go to the leader").build();
    }
    Session s = m.session(h.getNodeId());
    if (s != null && (s.incarnation() > h.getIncarnation()
        || (s.incarnation() == h.getIncarnation() && s.expired()))) {
      return b.setStatus(Status.SESSION_EXPIRED).setDetail("session of " + h.getNodeId() + " incarnation "
          + h.getIncarnation() + " is " + (s.expired() ? "expired" : "superseded")).build();
    }
    sessions.heartbeat(h.getNodeId(), h.getIncarnation());
    return b.setStatus(Status.OK).setLeaderContact(leader.get()).build();
  }

  /** A query's answer, complete. */
  static CompletableFuture<Message> reply(QueryResult result) {
    return CompletableFuture.completedFuture(message(result));
  }

  /** A Ratis message carrying an answer of the schema. */
  static Message message(com.google.protobuf.MessageLite answer) {
    return Message.valueOf(
        org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations.unsafeWrap(answer.toByteArray()));
  }

  /** Ratis' shaded bytes as protobuf's, without a copy. */
  static ByteString toProtobuf(org.apache.ratis.thirdparty.com.google.protobuf.ByteString bytes) {
    return UnsafeByteOperations.unsafeWrap(bytes.asReadOnlyByteBuffer());
  }

  /** The answer of a read query (whereis, lookup, barrier) from {@code mirror}. */
  static QueryResult answer(Mirror mirror, Query q) {
    QueryResult.Builder b = QueryResult.newBuilder().setAppliedIndex(mirror.appliedIndex());
    switch (q.getKindCase()) {
      case WHEREIS -> {
        var pid = mirror.whereis(q.getWhereis().getRegistry(), q.getWhereis().getKey());
        if (pid != null) {
          b.addEntries(Entry.newBuilder().setPid(Codec.toProto(pid)));
        }
        return b.setStatus(Status.OK).build();
      }
      case LOOKUP -> {
        for (Registration r : mirror.lookup(q.getLookup().getRegistry(), q.getLookup().getKey())) {
          Entry.Builder e = Entry.newBuilder().setPid(Codec.toProto(r.pid())).setRevision(r.revision());
          if (r.hasValue()) {
            e.setValue(ByteString.copyFrom(r.valueUnsafe()));
          }
          b.addEntries(e);
        }
        return b.setStatus(Status.OK).build();
      }
      case REGISTRIES -> {
        for (io.roster.schema.RegistryDescriptor d : mirror.registries()) {
          Mirror.RegistryState state = mirror.registryState(d.name());
          b.addRegistries(io.roster.proto.RegistrySummary.newBuilder().setName(d.name())
              .setRecord(io.roster.schema.Records.of(d)).setRegistrations(state == null ? 0 : state.size()));
        }
        return b.setStatus(Status.OK).build();
      }
      case BARRIER -> {
        return b.setStatus(Status.OK).build(); // Ratis answers only after the read index is applied
      }
      default -> {
        return b.setStatus(Status.UNKNOWN_COMMAND).setDetail("unknown query kind").build();
      }
    }
  }
}
