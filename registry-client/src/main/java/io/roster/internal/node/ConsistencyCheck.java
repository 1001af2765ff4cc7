package io.roster.internal.node;

import io.roster.ConsistencyReport;
import io.roster.internal.transport.RenewableClient;
import io.roster.proto.DigestAt;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.Status;
import io.roster.ratis.RegistryStateMachine;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A voter's side of the cross-peer consistency check of one group. At a digest-check entry every
 * replica digests its state as of that entry, in the background ({@code RocksStore}); then each
 * voter asks the others for theirs at the same index and compares. A replica whose digest is not the
 * majority's stops serving reads ({@link RegistryStateMachine#diverge}); the leader logs every
 * replica that differs, at ERROR. Nothing here runs on the apply thread or blocks a shared thread.
 */
public final class ConsistencyCheck {
  private static final Logger LOG = LoggerFactory.getLogger(ConsistencyCheck.class);
  /** How long a check waits for the other voters' digests. */
  static final long COLLECT_MILLIS = 30_000;
  private static final long RETRY_MILLIS = 100;
  private static final AtomicLong CALLS = new AtomicLong();

  private final String nodeId;
  private final String label;
  private final RegistryStateMachine stateMachine;
  /** Clients to the configured voters; one of them reaches voters added since. */
  private final Map<RaftPeerId, RenewableClient> voters;
  /** The voters of the group's current Raft configuration. */
  private final java.util.function.Supplier<java.util.Collection<org.apache.ratis.protocol.RaftPeer>> current;
  private final ScheduledExecutorService scheduler;
  private final java.util.function.BooleanSupplier leading;
  private final Map<Long, CompletableFuture<ConsistencyReport>> reports = new ConcurrentHashMap<>();

  ConsistencyCheck(String nodeId, String label, RegistryStateMachine stateMachine, Map<RaftPeerId, RenewableClient> voters,
      java.util.function.Supplier<java.util.Collection<org.apache.ratis.protocol.RaftPeer>> current,
      ScheduledExecutorService scheduler, java.util.function.BooleanSupplier leading) {
    this.current = current;
    this.nodeId = nodeId;
    this.label = label;
    this.stateMachine = stateMachine;
    this.voters = voters;
    this.scheduler = scheduler;
    this.leading = leading;
    stateMachine.onDigestCheck(index -> {
      try {
        scheduler.execute(() -> report(index));
      } catch (java.util.concurrent.RejectedExecutionException stopping) {
        // the node is closing
      }
    });
  }

  /** This voter's report of the digest check at {@code index} (started when the entry is applied here). */
  CompletableFuture<ConsistencyReport> report(long index) {
    CompletableFuture<ConsistencyReport> started = reports.get(index);
    if (started != null) {
      return started;
    }
    CompletableFuture<ConsistencyReport> report = new CompletableFuture<>();
    started = reports.putIfAbsent(index, report);
    if (started != null) {
      return started;
    }
    reports.keySet().removeIf(i -> i < index - 1_000_000); // keeps the map small over a long life
    CompletableFuture<String> own = stateMachine.digestAt(index);
    if (own == null) {
      report.completeExceptionally(new IllegalStateException(label + ": no digest at index " + index + " here"));
      return report;
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(COLLECT_MILLIS);
    Map<String, CompletableFuture<String>> asked = new LinkedHashMap<>();
    java.util.Collection<org.apache.ratis.protocol.RaftPeer> peers = current.get();
    for (org.apache.ratis.protocol.RaftPeer peer : peers) {
      CompletableFuture<String> d = new CompletableFuture<>();
      asked.put(peer.getId().toString(), d);
      if (peer.getId().toString().equals(nodeId)) {
        own.whenComplete((v, e) -> d.complete(e == null ? v : null));
      } else {
        collect(index, peer, deadline, d);
      }
    }
    int voterCount = peers.size();
    CompletableFuture.allOf(asked.values().toArray(new CompletableFuture[0])).whenComplete((v, e) -> {
      Map<String, String> digests = new LinkedHashMap<>();
      asked.forEach((peer, d) -> {
        String digest = d.getNow(null);
        if (digest != null) {
          digests.put(peer, digest);
        }
      });
      report.complete(judge(index, digests, voterCount, asked.keySet()));
    });
    return report;
  }

  /** Asks {@code peer} for its digest at {@code index} until it has one or the deadline passes (then null). */
  private void collect(long index, org.apache.ratis.protocol.RaftPeer to, long deadline, CompletableFuture<String> out) {
    RaftPeerId peer = to.getId();
    RenewableClient via = voters.containsKey(peer) ? voters.get(peer) : voters.values().iterator().next();
    Message ask = Message.valueOf(UnsafeByteOperations.unsafeWrap(Query.newBuilder()
        .setDigestAt(DigestAt.newBuilder().setIndex(index)).build().toByteArray()));
    CompletableFuture<org.apache.ratis.protocol.RaftClientReply> sent;
    try {
      sent = via.call(Optional.empty(), client -> {
        client.getClientRpc().addRaftPeers(List.of(to)); // a voter added since this node was configured
        return client.getClientRpc().sendRequestAsyncUnordered(
          RaftClientRequest.newBuilder().setClientId(client.getId()).setServerId(peer).setGroupId(client.getGroupId())
              .setCallId(CALLS.incrementAndGet()).setMessage(ask)
              .setType(RaftClientRequest.staleReadRequestType(index)).build())
          .orTimeout(5, TimeUnit.SECONDS);
      });
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    sent.whenComplete((reply, e) -> {
      QueryResult r = null;
      if (e == null && reply.isSuccess()) {
        try {
          r = QueryResult.parseFrom(reply.getMessage().getContent().toByteArray());
        } catch (com.google.protobuf.InvalidProtocolBufferException bad) {
          LOG.debug("{}: {}'s digest answer does not decode", label, peer);
        }
      }
      if (r != null && r.getStatus() == Status.OK) {
        out.complete(r.getDigest());
      } else if (System.nanoTime() < deadline && (r == null || r.getStatus() == Status.BUSY)) {
        try {
          scheduler.schedule(() -> collect(index, to, deadline, out), RETRY_MILLIS, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
          out.complete(null);
        }
      } else {
        out.complete(null); // down, or without this check's digest: it counts for no side
      }
    });
  }

  private ConsistencyReport judge(long index, Map<String, String> digests, int voterCount,
      java.util.Set<String> asked) {
    Map<String, Integer> counts = new java.util.HashMap<>();
    digests.values().forEach(d -> counts.merge(d, 1, Integer::sum));
    String majority = counts.entrySet().stream().filter(e -> e.getValue() > voterCount / 2).map(Map.Entry::getKey)
        .findFirst().orElse(null);
    ConsistencyReport report = new ConsistencyReport(label, index, digests, majority,
        asked.stream().filter(v -> !digests.containsKey(v)).sorted().toList());
    String own = digests.get(nodeId);
    if (majority == null) {
      if (counts.size() > 1) {
        LOG.error("{}: replicas disagree at index {} and no digest has a majority: {}", label, index, digests);
      } else {
        LOG.info("{}: digest check at index {}: too few voters answered ({}) to judge", label, index, digests.keySet());
      }
    } else if (own != null && !own.equals(majority)) {
      stateMachine.diverge("its state at index " + index + " has digest " + own + "; the majority's is " + majority
          + " (" + digests + ")");
    } else if (leading.getAsBoolean() && !report.diverged().isEmpty()) {
      LOG.error("{}: replica(s) {} diverged at index {}: digests {}; the majority's is {}", label, report.diverged(),
          index, digests, majority);
    } else {
      LOG.debug("{}: digest check at index {}: {} agree", label, index, digests.keySet());
    }
    return report;
  }
}
