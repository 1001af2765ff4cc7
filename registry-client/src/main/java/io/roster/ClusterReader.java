package io.roster;

import io.roster.internal.admin.ClusterReads;
import io.roster.internal.admin.MembershipAdmin;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Reads a cluster's registries, sessions and changes, and checks its replicas, as an operator's tool
 * does ({@code roster registries}, {@code get}, {@code list}, {@code watch}, {@code sessions},
 * {@code check}), with an {@code admin} certificate and no node of its own: nothing is registered,
 * no session opened.
 *
 * <p>Every read but {@link #watch} is linearizable: it follows a ReadIndex barrier through the
 * group's leader, so it holds every write acknowledged before the call. {@link #registries} and
 * {@link #get} are queries answered from a replica's mirror; {@link #list} and {@link #sessions}
 * load a group's whole state from a voter that has applied the barrier (followers first), as a
 * client node's mirror does when it starts: meant for operators, not for a request path.
 *
 * <pre>{@code
 * try (ClusterReader r = ClusterReader.connect("roster", Map.of("n1", "10.0.0.1:7001"), Tls.pem(cert, key, ca))) {
 *   r.registries().forEach(System.out::println);
 *   r.get("services", "billing");
 * }
 * }</pre>
 */
public final class ClusterReader implements AutoCloseable {
  private final MembershipAdmin admin;
  private final ClusterReads reads;

  private ClusterReader(String cluster, MembershipAdmin admin) {
    this.admin = admin;
    this.reads = new ClusterReads(cluster, admin);
  }

  /**
   * Reaches cluster {@code cluster} through any of {@code voters} (id → host:port) with the admin
   * certificate {@code tls}, or in plaintext when {@code tls} is null (a cluster started insecure).
   */
  public static ClusterReader connect(String cluster, Map<String, String> voters, Tls tls) {
    return new ClusterReader(cluster, new MembershipAdmin(cluster, voters, tls));
  }

  /**
   * A registry as the cluster's group describes it.
   *
   * @param mode UNIQUE, DUPLICATE or DUPLICATE_BY_KEY
   * @param registrations its registrations now, over all its partitions
   * @param revision the revision of its creation
   */
  public record RegistryInfo(String name, String mode, int partitions, long registrations, long revision) {}

  /**
   * One registration.
   *
   * @param pid the owning process, as {@code <node.incarnation.serial>}
   * @param value its value's bytes, or null for a registration with no value
   * @param revision the revision that created it or last updated its value (per partition)
   * @param partition the partition that holds it, or -1 for a registry of one partition
   */
  public record Entry(String key, String pid, byte[] value, long revision, int partition) {}

  /**
   * The registrations a listing matched, the first {@code limit} of them in key order.
   *
   * @param total how many matched in all
   */
  public record Listing(List<Entry> entries, int total) {}

  /**
   * A node's open session in one Raft group.
   *
   * @param group {@code cluster}, or a partition's label ({@code registry#partition})
   * @param address where its processes receive messages, empty if nowhere
   * @param revision the revision that opened it
   */
  public record SessionInfo(String group, String nodeId, long incarnation, long timeoutMillis, String address,
      long revision) {}

  /**
   * One change of a registry, as a change stream carries it.
   *
   * @param kind REGISTERED, UNREGISTERED, VALUE_UPDATED, META_PUT, META_DELETED, LOCK_ACQUIRED, LOCK_RELEASED
   *     or REGISTRY_CREATED
   * @param partition the partition it happened in, or -1 for a registry of one partition
   * @param key the registration's, metadata's or lock's key
   * @param pid the process concerned, or null (metadata)
   * @param value the registration's value after the change, or the metadata's value, or null
   */
  public record Event(String kind, String registry, int partition, String key, String pid, byte[] value,
      long revision) {}

  /** Every registry, by name. @throws RosterException if no leader answers or the certificate is refused */
  public List<RegistryInfo> registries() {
    return reads.registries();
  }

  /**
   * The registrations of {@code key} (one at most in a unique registry), by revision.
   *
   * @throws IllegalArgumentException if there is no such registry
   */
  public List<Entry> get(String registry, String key) {
    return reads.get(java.util.Objects.requireNonNull(registry, "registry"), java.util.Objects.requireNonNull(key, "key"));
  }

  /**
   * The registrations whose key starts with {@code prefix} ("" for all), in key order, the first
   * {@code limit}.
   *
   * @throws IllegalArgumentException if there is no such registry, or {@code limit} is below 1
   */
  public Listing list(String registry, String prefix, int limit) {
    return reads.list(java.util.Objects.requireNonNull(registry, "registry"),
        java.util.Objects.requireNonNull(prefix, "prefix"), limit);
  }

  /** Every open session, in the cluster's group and in each partition group. */
  public List<SessionInfo> sessions() {
    return reads.sessions();
  }

  /** The label of each Raft group by its id: {@code cluster}, or {@code registry#partition}. */
  public Map<String, String> groupNames() {
    return reads.groupNames();
  }

  /**
   * Delivers {@code registry}'s changes to {@code each}, one at a time, until the calling thread is
   * interrupted (then returns, with the thread's interrupt status set): from revision {@code fromRevision} on (inclusive), or from now when it
   * is 0, of partition {@code partition}, or of all partitions when it is -1 (resuming from a
   * revision needs a partition: each has revisions of its own). {@code started} hears, per
   * partition, the revision the watch starts after, and each move to another voter. A watch that no
   * voter answers for 30 s ends with a {@link RosterException}.
   *
   * @throws IllegalArgumentException if there is no such registry or partition
   * @throws RosterException if the cluster cannot be reached, or the voters no longer keep changes that old
   */
  public void watch(String registry, int partition, long fromRevision, Consumer<Event> each, Consumer<String> started)
      throws InterruptedException {
    java.util.Objects.requireNonNull(registry, "registry");
    java.util.Objects.requireNonNull(each, "each");
    java.util.Objects.requireNonNull(started, "started");
    if (fromRevision < 0) {
      throw new IllegalArgumentException("a revision is not negative: " + fromRevision);
    }
    reads.watch(registry, partition, fromRevision, each, started);
  }

  /**
   * Proposes a digest check in every Raft group (an entry at which every replica digests its state)
   * and compares the voters' digests; a replica that differs from the majority stops serving reads
   * on its own. {@code progress} hears each group's label as its check starts.
   */
  public List<ConsistencyReport> check(Consumer<String> progress) {
    return reads.check(progress);
  }

  @Override
  public void close() {
    reads.close();
    admin.close();
  }
}
