package io.roster.internal.transport;

import io.roster.mirror.Mirror;
import io.roster.proto.ChangeEntry;
import io.roster.proto.Dump;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.Status;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * Queries to one voter over Ratis, and its whole state loaded into a fresh mirror (a client node's
 * stream, the admin's reads).
 */
public final class Dumps {
  private Dumps() {}

  /**
   * Loads {@code peer}'s whole state, once it has applied {@code minIndex}, into a new mirror at the
   * dump's applied index: the dump comes in chunks of one applied index, asked for one by one from
   * the same voter; {@code answered} runs at every answer.
   *
   * @throws IllegalStateException if the voter refuses the dump or a chunk is of another dump
   */
  public static Mirror load(RaftClient client, RaftPeerId peer, long minIndex, Runnable answered) throws Exception {
    QueryResult r = query(client, Query.newBuilder().setDump(Dump.getDefaultInstance()).build(), peer, minIndex,
        answered);
    if (r.getStatus() != Status.OK) {
      throw new IllegalStateException("dump from " + peer + " failed: " + r.getStatus() + " " + r.getDetail());
    }
    Mirror fresh = new Mirror();
    long dumpId = r.getDumpId();
    for (int chunk = 0; ; ) {
      for (ChangeEntry e : r.getChangeEntriesList()) {
        fresh.applyStreamed(e.getIndex(), e.getChangesList());
      }
      if (++chunk >= r.getChunks()) {
        break;
      }
      QueryResult next = query(client,
          Query.newBuilder().setDump(Dump.newBuilder().setDumpId(dumpId).setChunk(chunk)).build(), peer, 0, answered);
      if (next.getStatus() != Status.OK || next.getAppliedIndex() != r.getAppliedIndex()
          || next.getChunks() != r.getChunks() || next.getDumpId() != dumpId) {
        throw new IllegalStateException("chunk " + chunk + " of dump " + dumpId + " from " + peer + " failed or is "
            + "of another dump: " + next.getStatus() + " " + next.getDetail());
      }
      r = next;
    }
    fresh.advanceTo(r.getAppliedIndex());
    return fresh;
  }

  /** Asks {@code peer} once it has applied {@code minIndex} (a stale read: no barrier of its own). */
  public static QueryResult query(RaftClient client, Query q, RaftPeerId peer, long minIndex, Runnable answered)
      throws Exception {
    RaftClientReply reply = client.io().sendStaleRead(
        Message.valueOf(UnsafeByteOperations.unsafeWrap(q.toByteArray())), minIndex, peer);
    if (!reply.isSuccess()) {
      throw reply.getException();
    }
    QueryResult r = QueryResult.parseFrom(reply.getMessage().getContent().toByteArray());
    answered.run();
    return r;
  }
}
