package io.roster.internal.node;

import io.roster.RosterException;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * What a data directory belongs to: the cluster and the node id, written at its first start and
 * checked at every start after, so that a directory is never served under another identity (a new,
 * empty Raft group under another cluster name, or one node's log under another node's id); and
 * the incarnation of the node's last start, so that a restart takes a larger one.
 */
final class DataDirIdentity {
  static final String FILE = "roster-node.properties";

  private DataDirIdentity() {}

  /**
   * Records {@code cluster} and {@code nodeId} in {@code dataDir} if it has no identity yet, else
   * checks that they are the ones recorded.
   *
   * @throws IllegalArgumentException naming both identities when they differ
   * @throws RosterException if the identity file cannot be read or written
   */
  static void check(Path dataDir, String cluster, String nodeId) {
    Path file = dataDir.resolve(FILE);
    try {
      Files.createDirectories(dataDir);
      if (Files.exists(file)) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
          p.load(r);
        }
        String storedCluster = p.getProperty("cluster");
        String storedNode = p.getProperty("node");
        if (storedCluster == null || storedNode == null) {
          throw new RosterException(file + " names no cluster or no node: the data directory's identity is damaged; "
              + "restore the file (cluster=NAME, node=ID) or replace this member");
        }
        if (!storedCluster.equals(cluster) || !storedNode.equals(nodeId)) {
          throw new IllegalArgumentException("the data directory " + dataDir + " belongs to node " + storedNode
              + " of cluster '" + storedCluster + "', not to node " + nodeId + " of cluster '" + cluster + "': start "
              + "it with --id " + storedNode + " --cluster " + storedCluster + ", or give this node another directory");
        }
        return;
      }
      Properties p = new Properties();
      p.setProperty("cluster", cluster);
      p.setProperty("node", nodeId);
      Path tmp = dataDir.resolve(FILE + ".tmp");
      try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        p.store(w, "Roster: the cluster and node this data directory belongs to; do not edit");
      }
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new RosterException("cannot check the identity of the data directory " + dataDir + ": " + e.getMessage(), e);
    }
  }

  /**
   * Why the voters configured for this start contradict the Raft configuration stored in the data
   * directory, or null: a voter both name at different addresses, or configured voters that hold
   * no majority of the stored ones (the directory belongs to another membership). A list one
   * change away from the stored one (a voter added or removed while this node was down) is taken:
   * Raft brings the node up to date.
   */
  static String votersConflict(Map<String, String> stored, Map<String, String> configured) {
    int shared = 0;
    for (Map.Entry<String, String> e : stored.entrySet()) {
      String address = configured.get(e.getKey());
      if (address == null) {
        continue;
      }
      if (!address.equals(e.getValue())) {
        return "voter " + e.getKey() + " is at " + e.getValue() + " in the stored Raft configuration but at " + address
            + " in the configured voters";
      }
      shared++;
    }
    if (shared <= stored.size() / 2) {
      return "the configured voters " + new TreeMap<>(configured) + " hold no majority of the stored Raft "
          + "configuration " + new TreeMap<>(stored);
    }
    return null;
  }

  /**
   * A new incarnation, larger than every earlier one of this node: the wall clock in milliseconds,
   * or one more than the last one recorded in the data directory ({@code incarnation}) if the clock
   * went back.
   */
  static long nextIncarnation(Path dataDir) {
    long incarnation = System.currentTimeMillis();
    if (dataDir == null) {
      return incarnation;
    }
    Path file = dataDir.resolve("incarnation");
    try {
      Files.createDirectories(dataDir);
      if (Files.exists(file)) {
        long last = Long.parseLong(Files.readString(file, StandardCharsets.UTF_8).trim());
        incarnation = Math.max(incarnation, last + 1);
      }
      Path tmp = dataDir.resolve("incarnation.tmp");
      Files.writeString(tmp, Long.toString(incarnation), StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | NumberFormatException e) {
      throw new RosterException("cannot record the incarnation in " + file + ": " + e.getMessage(), e);
    }
    return incarnation;
  }
}
