package io.roster.internal.admin;

import io.roster.RosterException;
import io.roster.backup.SnapshotArchive;
import io.roster.internal.transport.RaftAccess;
import io.roster.internal.transport.RatisWiring;
import io.roster.proto.Query;
import io.roster.proto.QueryResult;
import io.roster.proto.RegistryRecord;
import io.roster.proto.Status;
import io.roster.proto.StoreCopy;
import io.roster.proto.StoreRecord;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * Saves a live cluster's state into a snapshot file ({@code roster snapshot save}): the cluster's
 * group, then every partition group of the registries it describes, each copied from its leader
 * at one index after a linearizable read (the copy holds every write acknowledged before it
 * started), through an admin certificate.
 */
public final class SnapshotSaver {
  /** Tries of one part (a part asked again is answered again). */
  private static final int PART_TRIES = 5;

  private final String cluster;
  private final MembershipAdmin admin;

  /** A saver of cluster {@code cluster}, reached through {@code admin} (its voters and admin certificate). */
  public SnapshotSaver(String cluster, MembershipAdmin admin) {
    this.cluster = cluster;
    this.admin = admin;
  }

  /**
   * Writes the file; on any failure nothing is left at {@code file} (nor at its {@code .part}).
   *
   * @throws RosterException if the cluster does not answer, or refuses the certificate
   * @throws IOException if the file cannot be written
   */
  public SnapshotArchive.Contents save(Path file, SnapshotArchive.Progress progress) throws IOException {
    try (SnapshotArchive.Writer w = new SnapshotArchive.Writer(file, cluster)) {
      Map<String, Integer> partitioned = new TreeMap<>();
      copy(w, admin.clusterGroup(), "", 0, progress, r -> {
        byte[] k = r.getKey().toByteArray();
        if (k.length > 1 && k[0] == 'G') { // a registry's descriptor
          try {
            int partitions = RegistryRecord.parseFrom(r.getValue()).getPartitions();
            if (partitions > 1) {
              partitioned.put(new String(k, 1, k.length - 1, StandardCharsets.UTF_8), partitions);
            }
          } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new RosterException("the cluster's group holds a registry record that does not decode", e);
          }
        }
      });
      for (Map.Entry<String, Integer> e : partitioned.entrySet()) {
        for (int i = 0; i < e.getValue(); i++) {
          copy(w, RatisWiring.partitionGroupId(cluster, e.getKey(), i), e.getKey(), i, progress, r -> { });
        }
      }
      return w.finish();
    }
  }

  private void copy(SnapshotArchive.Writer w, RaftGroupId g, String registry, int partition,
      SnapshotArchive.Progress progress, java.util.function.Consumer<StoreRecord> each) throws IOException {
    String label = registry.isEmpty() ? "cluster" : registry + "#" + partition;
    GroupInfoReply info = admin.info(g);
    RaftPeerId leader = RaftPeerId.valueOf(info.getRoleInfoProto().getSelf().getId());
    try (RaftClient c = admin.client(info.getGroup())) {
      // a linearizable read at the leader starts the copy: its view holds every acknowledged write;
      // the copy's id is ours, so a start the client retries starts nothing new
      long id;
      do {
        id = RANDOM.nextLong() & Long.MAX_VALUE;
      } while (id == 0);
      RaftClientReply reply;
      try {
        reply = c.io().sendReadOnly(message(StoreCopy.newBuilder().setCopyId(id).setPart(0).build()), leader);
      } catch (IOException e) {
        if (RaftAccess.refused(e)) {
          throw new RosterException("the cluster refuses this certificate (an admin certificate is needed): "
              + e.getMessage(), e);
        }
        throw e;
      }
      QueryResult r = answer(reply, label);
      RaftPeerId voter = reply.getServerId();
      long index = r.getAppliedIndex();
      w.group(registry, partition, index, voter.toString());
      for (int part = 0; ; part++) {
        if (r.getDumpId() != id || r.getAppliedIndex() != index) {
          throw new RosterException(voter + " answered part " + part + " of " + label + " from another copy (index "
              + r.getAppliedIndex() + ", not " + index + "): save again");
        }
        r.getRecordsList().forEach(each);
        w.records(r.getRecordsList());
        progress.at(label, w.records(), w.bytes());
        if (r.getLast()) {
          w.groupEnd(r.getDigest());
          return;
        }
        r = nextPart(c, voter, id, part + 1, label);
      }
    }
  }

  private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

  private static QueryResult nextPart(RaftClient c, RaftPeerId voter, long id, int part, String label)
      throws IOException {
    IOException last = null;
    for (int t = 0; t < PART_TRIES; t++) {
      try {
        return answer(c.io().sendStaleRead(message(StoreCopy.newBuilder().setCopyId(id).setPart(part)
            .build()), 0, voter), label);
      } catch (IOException e) {
        last = e; // a connection lost: the same part again
      }
    }
    throw new RosterException("part " + part + " of " + label + " from " + voter + " failed " + PART_TRIES
        + " times; save again: " + last.getMessage(), last);
  }

  private static QueryResult answer(RaftClientReply reply, String label) throws IOException {
    if (!reply.isSuccess()) {
      throw reply.getException();
    }
    QueryResult r = QueryResult.parseFrom(reply.getMessage().getContent().toByteArray());
    if (r.getStatus() != Status.OK) {
      throw new RosterException("copying " + label + " failed: " + r.getStatus() + " " + r.getDetail());
    }
    return r;
  }

  private static Message message(StoreCopy copy) {
    return Message.valueOf(UnsafeByteOperations.unsafeWrap(Query.newBuilder().setStoreCopy(copy).build()
        .toByteArray()));
  }
}
