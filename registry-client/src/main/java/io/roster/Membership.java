package io.roster;

import io.roster.internal.admin.MembershipAdmin;
import java.util.Map;

/**
 * Changes the cluster's voters: the cluster's Raft group and every partition group together. Needs
 * an {@code admin} certificate ({@code roster cert issue --role admin}); Ratis' admin service
 * refuses any other.
 *
 * <pre>{@code
 * try (Membership m = Membership.connect("roster", Map.of("n1", "10.0.0.1:7001"), Tls.pem(cert, key, ca))) {
 *   m.addVoter("n4", "10.0.0.4:7001");   // n4 runs already, joining, started with the voters list that names it
 *   m.removeVoter("n1");                  // then stop n1
 * }
 * }</pre>
 *
 * <p>Replacing a voter whose disk was lost: stop it, {@link #removeVoter} it, give it an empty data
 * directory, start it (same id and address, or new ones) with the current voters list and {@code
 * joining(true)} ({@code roster node --join}), and {@link #addVoter} it: it joins as a new member and
 * receives the state from the leader.
 */
public final class Membership implements AutoCloseable {
  private final MembershipAdmin admin;

  private Membership(MembershipAdmin admin) {
    this.admin = admin;
  }

  /**
   * Reaches cluster {@code cluster} through any of {@code voters} (id → host:port) with the admin
   * certificate {@code tls}, or in plaintext when {@code tls} is null (a cluster started insecure).
   */
  public static Membership connect(String cluster, Map<String, String> voters, Tls tls) {
    return new Membership(new MembershipAdmin(cluster, voters, tls));
  }

  /**
   * The cluster's voters now (id → address), as the cluster group's leader says.
   *
   * @throws RosterException if no leader answers, or the certificate is not an admin's
   */
  public Map<String, String> voters() {
    return admin.voters();
  }

  /**
   * Adds a running node as a voter: it catches up without a vote, then votes, in every group. Each
   * group's change is a compare-and-set: a concurrent change fails it rather than being overwritten.
   *
   * @throws RosterException if the node does not host a group in time, or a change fails
   */
  public void addVoter(String id, String address) {
    admin.addVoter(id, address);
  }

  /**
   * Removes a voter from every group (the partition groups first); stop its node afterwards.
   *
   * @throws IllegalArgumentException if it is the last voter of a group
   * @throws RosterException if a change fails
   */
  public void removeVoter(String id) {
    admin.removeVoter(id);
  }

  /**
   * Every Raft group as its leader describes it, and each voter as it describes itself (role, commit
   * and applied index, lag, last contact): the cluster's group first.
   *
   * @throws RosterException if no voter answers, or the certificate is not an admin's
   */
  public ClusterStatus status() {
    return admin.status();
  }

  /**
   * Hands the cluster group's leadership to voter {@code id}.
   *
   * @throws IllegalArgumentException if {@code id} is not a voter
   * @throws RosterException if the transfer fails
   */
  public void transferLeadership(String id) {
    admin.transferLeadership(id);
  }

  @Override
  public void close() {
    admin.close();
  }
}
