package io.roster.internal.admin;

import io.roster.ConsistencyReport;
import io.roster.RosterException;
import io.roster.internal.transport.Dumps;
import io.roster.proto.BatchResult;
import io.roster.proto.DigestAt;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.Status;
import io.roster.schema.Codec;
import io.roster.schema.Commands;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * An operator's digest check ({@link io.roster.ClusterReader#check}): a DigestCheck entry proposed
 * in every group, then every voter asked at once for its digest of its state at that entry, again
 * until {@value #DIGEST_MILLIS} ms while one is behind or down, and the digests compared.
 */
final class ClusterCheck {
  /** How long a digest check waits for every voter's digest. */
  private static final long DIGEST_MILLIS = 30_000;
  private static final long RETRY_MILLIS = 200;

  private final ClusterReads reads;
  private final MembershipAdmin admin;

  ClusterCheck(ClusterReads reads, MembershipAdmin admin) {
    this.reads = reads;
    this.admin = admin;
  }

  /**
   * Proposes a digest check in every group and compares the digest each voter computed at its
   * entry: the cluster's group first.
   */
  public List<ConsistencyReport> check(Consumer<String> progress) {
    List<ConsistencyReport> out = new ArrayList<>();
    for (Map.Entry<String, String> g : reads.groupNames().entrySet()) {
      RaftGroupId id = RaftGroupId.valueOf(java.util.UUID.fromString(g.getKey()));
      progress.accept(g.getValue());
      out.add(check(g.getValue(), id));
    }
    return out;
  }

  private ConsistencyReport check(String label, RaftGroupId g) {
    RaftGroup group = admin.info(g).getGroup();
    long index;
    try {
      RaftClientReply reply = reads.client(g).io().send(Message.valueOf(UnsafeByteOperations.unsafeWrap(
          Codec.encode(Commands.digestCheck()))));
      if (!reply.isSuccess()) {
        throw new RosterException(label + ": the digest check was not committed: " + reply.getException(),
            reply.getException());
      }
      BatchResult result = BatchResult.parseFrom(reply.getMessage().getContent().toByteArray());
      if (result.getResultsCount() != 1 || result.getResults(0).getStatus() != Status.OK) {
        throw new RosterException(label + ": the digest check was refused: " + result);
      }
      index = reply.getLogIndex();
    } catch (IOException e) {
      MembershipAdmin.refusedOrNot(e, "the leader of " + label);
      throw new RosterException(label + ": the digest check failed: " + e.getMessage(), e);
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DIGEST_MILLIS);
    Map<String, CompletableFuture<String>> asked = new LinkedHashMap<>();
    java.util.concurrent.ExecutorService askers = java.util.concurrent.Executors.newFixedThreadPool(
        group.getPeers().size(), r -> {
          Thread t = new Thread(r, "roster-check-" + label);
          t.setDaemon(true);
          return t;
        });
    Map<String, String> digests = new java.util.TreeMap<>();
    try {
      for (RaftPeer peer : group.getPeers()) { // all at once: one down costs its timeout once, not per voter
        asked.put(peer.getId().toString(),
            CompletableFuture.supplyAsync(() -> digest(group, peer, index, deadline), askers));
      }
      asked.forEach((peer, d) -> {
        String digest = d.join();
        if (digest != null) {
          digests.put(peer, digest);
        }
      });
    } finally {
      askers.shutdownNow();
    }
    Map<String, Integer> counts = new java.util.HashMap<>();
    digests.values().forEach(d -> counts.merge(d, 1, Integer::sum));
    String majority = counts.entrySet().stream().filter(e -> e.getValue() > group.getPeers().size() / 2)
        .map(Map.Entry::getKey).findFirst().orElse(null);
    return new ConsistencyReport(label, index, digests, majority, group.getPeers().stream()
        .map(v -> v.getId().toString()).filter(v -> !digests.containsKey(v)).sorted().toList());
  }

  /**
   * {@code peer}'s digest at {@code index}, asked again until the deadline while it computes it, is
   * not there yet (behind: Ratis refuses the stale read) or does not answer; null if it has none by
   * then, or none for that index.
   */
  private String digest(RaftGroup group, RaftPeer peer, long index, long deadline) {
    try (RaftClient c = admin.client(group, 5_000, 1)) {
      while (System.nanoTime() < deadline) {
        QueryResult r;
        try {
          r = Dumps.query(c, Query.newBuilder().setDigestAt(DigestAt.newBuilder().setIndex(index)).build(),
              peer.getId(), index, () -> { });
        } catch (Exception e) {
          MembershipAdmin.refusedOrNot(e, peer.getId().toString());
          Thread.sleep(RETRY_MILLIS); // down, or behind: again until the deadline
          continue;
        }
        if (r.getStatus() == Status.OK) {
          return r.getDigest();
        }
        if (r.getStatus() != Status.BUSY) {
          return null; // no digest for that index (it keeps the last few)
        }
        Thread.sleep(RETRY_MILLIS);
      }
      return null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }
}
