package io.roster.internal.node;

import io.roster.RosterException;
import io.roster.internal.Failures;
import io.roster.internal.NodeConfig;
import io.roster.internal.transport.RatisWiring;
import io.roster.internal.transport.StartingGroups;
import io.roster.ratis.ClientIdentities;
import io.roster.ratis.RegistryStateMachine;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.storage.RaftStorage;

/**
 * A voter's Raft server, started: the cluster's group and every partition group found on disk or
 * added later, each with a {@link RegistryStateMachine}; the gate of its port ({@link RaftAccess});
 * and the check that the configured voters agree with the Raft configuration stored on disk.
 */
final class VoterServer {
  private VoterServer() {}

  /**
   * Builds and starts the server of voter {@code config} for the cluster's {@code group}.
   *
   * @throws IllegalArgumentException if the configured voters contradict the stored configuration
   * @throws RosterException if the server cannot start (a port in use, a damaged store), naming the cause
   */
  static RaftServer start(NodeConfig config, RaftGroup group) {
    // who each client id authenticated as: bound by the gate, read by the leader's state machines
    ClientIdentities identities = config.tls() != null ? new ClientIdentities() : null;
    // this server's state machines, for the gate to tell members (nodes with an open session)
    Map<RaftGroupId, RegistryStateMachine> machines = new ConcurrentHashMap<>();
    // the server, once built: voters added since this node's configuration are in its groups' configurations
    AtomicReference<RaftServer> built = new AtomicReference<>();
    RaftServer server = null;
    try {
      server = RaftServer.newBuilder()
          .setServerId(RaftPeerId.valueOf(config.nodeId()))
          .setGroup(group)
          .setProperties(RatisWiring.serverProperties(config))
          .setParameters(RatisWiring.serverParameters(config, identities, (g, nodeId) -> {
            RegistryStateMachine sm = machines.get(g);
            return sm != null && sm.member(nodeId);
          }, id -> config.voters().containsKey(id) || inConfiguration(built.get(), id),
              (g, id) -> inGroupConfiguration(built.get(), g, id), g -> starting(built.get(), g),
              () -> built.get() != null && built.get().getLifeCycleState().isClosingOrClosed()))
          .setStateMachineRegistry(id -> machines.compute(id, (g, old) -> new RegistryStateMachine(identities,
              config.dataDir() == null ? null : config.dataDir().resolve(SnapshotRestorer.SEEDS))))
          .setOption(RaftStorage.StartupOption.RECOVER)
          .build();
      built.set(server);
      server.start();
      checkStoredVoters(server, group, config);
      return server;
    } catch (IllegalArgumentException e) {
      Failures.closeQuietly(server);
      throw e;
    } catch (IOException | RuntimeException e) { // RuntimeException: Ratis' ExitException (see RatisEmbedding)
      Failures.closeQuietly(server);
      throw new RosterException("node " + config.nodeId() + " cannot start its Raft server on "
          + config.listenAddress() + ": " + Failures.causes(e), e);
    }
  }

  /** Whether {@code id} is a peer (voter, or catching up to be one) of a group {@code server} hosts. */
  private static boolean inConfiguration(RaftServer server, String id) {
    if (server == null) {
      return false;
    }
    RaftPeerId peer = RaftPeerId.valueOf(id);
    for (RaftGroupId g : server.getGroupIds()) {
      try {
        RaftConfiguration conf = server.getDivision(g).getRaftConf();
        if (conf.getPeer(peer) != null) {
          return true;
        }
      } catch (IOException | RuntimeException gone) {
        // a group being removed
      }
    }
    return false;
  }

  /** Whether {@code id} is a voter of group {@code g} as {@code server} knows it (true if it does not host it). */
  private static boolean inGroupConfiguration(RaftServer server, RaftGroupId g, String id) {
    if (server == null) {
      return true;
    }
    try {
      return server.getDivision(g).getRaftConf().getPeer(RaftPeerId.valueOf(id)) != null;
    } catch (IOException notHosted) {
      return true; // Ratis answers for a group it does not host
    }
  }

  /**
   * Where group {@code g} stands on {@code server}: not hosted, starting (loading its log and state
   * machine, before it takes a role; also while the server itself is not built yet), or started.
   */
  private static StartingGroups.State starting(RaftServer server, RaftGroupId g) {
    if (server == null) {
      return StartingGroups.State.STARTING;
    }
    try {
      return server.getDivision(g).getInfo().getCurrentRole() == null
          ? StartingGroups.State.STARTING : StartingGroups.State.STARTED;
    } catch (IOException notHosted) {
      return StartingGroups.State.NOT_HOSTED; // Ratis answers for a group it does not host
    }
  }

  /** Refuses voters that contradict the Raft configuration stored in the data directory. */
  private static void checkStoredVoters(RaftServer server, RaftGroup group, NodeConfig config) throws IOException {
    Map<String, String> stored = new LinkedHashMap<>();
    for (RaftPeer p : server.getDivision(group.getGroupId()).getRaftConf().getCurrentPeers()) {
      stored.put(p.getId().toString(), p.getAddress());
    }
    if (stored.isEmpty()) {
      return; // a joining voter on an empty directory: nothing stored yet, the leader brings it
    }
    String conflict = DataDirIdentity.votersConflict(stored, config.voters());
    if (conflict != null) {
      throw new IllegalArgumentException("node " + config.nodeId() + ": " + conflict + " (data directory "
          + config.dataDir() + "); give the cluster's current voters");
    }
  }
}
