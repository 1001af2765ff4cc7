package io.roster.internal.read;

import io.roster.mirror.ChangeHistory;
import io.roster.mirror.Mirror;
import io.roster.ratis.RegistryStateMachine;
import java.util.concurrent.CompletableFuture;

/** A voter's mirror: the one its own state machine applies to. */
public final class VoterMirror implements MirrorSource {
  private final RegistryStateMachine sm;
  private final String nodeId;

  public VoterMirror(RegistryStateMachine sm, String nodeId) {
    this.sm = sm;
    this.nodeId = nodeId;
  }

  @Override
  public java.util.Optional<String> source() {
    return java.util.Optional.of(nodeId);
  }

  @Override
  public Mirror mirror() {
    return sm.mirror();
  }

  @Override
  public CompletableFuture<Long> awaitApplied(long index, long timeoutMillis) {
    return sm.awaitApplied(index, timeoutMillis);
  }

  @Override
  public ChangeHistory history() {
    return sm.changeHistory();
  }

  @Override
  public void close() {
    // the state machine is closed with the Raft server
  }
}
