package io.roster.statemachine;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import io.roster.Pid;
import io.roster.statemachine.proto.BatchResult;
import io.roster.statemachine.proto.Command;
import io.roster.statemachine.proto.CommandBatch;
import io.roster.statemachine.proto.PidProto;
import io.roster.statemachine.proto.Result;
import io.roster.statemachine.proto.Status;
import java.io.IOException;
import java.util.List;

/** Encoding of the command schema: pids, batches and their decoding with validation. */
public final class Codec {
  /** The schema version this build writes and understands. */
  public static final int SCHEMA_VERSION = 1;

  private Codec() {}

  public static PidProto toProto(Pid pid) {
    return PidProto.newBuilder()
        .setNodeId(pid.nodeId())
        .setIncarnation(pid.incarnation())
        .setSerial(pid.serial())
        .build();
  }

  /** Converts a validated proto; throws IllegalArgumentException if it is not a valid pid. */
  public static Pid fromProto(PidProto proto) {
    return Pid.of(proto.getNodeId(), proto.getIncarnation(), proto.getSerial());
  }

  public static CommandBatch batchOf(List<Command> commands) {
    return CommandBatch.newBuilder().setSchemaVersion(SCHEMA_VERSION).addAllCommands(commands).build();
  }

  public static CommandBatch batchOf(Command... commands) {
    return batchOf(List.of(commands));
  }

  /** A decoded batch, or why the bytes are not one. */
  public record Decoded(CommandBatch batch, Status errorStatus, String errorDetail) {
    public boolean ok() {
      return batch != null;
    }
  }

  /**
   * Decodes and checks a Raft entry's bytes. Never throws: bytes that do not decode, exceed the
   * limits, or carry an unknown schema version come back as an error.
   */
  public static Decoded decodeBatch(ByteString bytes) {
    if (bytes.size() > Limits.BATCH_BYTES_MAX) {
      return new Decoded(null, Status.LIMIT_EXCEEDED,
          "entry is " + bytes.size() + " bytes; the limit is " + Limits.BATCH_BYTES_MAX);
    }
    CommandBatch batch;
    try {
      CodedInputStream in = bytes.newCodedInput();
      in.setRecursionLimit(16);
      batch = CommandBatch.parseFrom(in);
    } catch (IOException e) { // InvalidProtocolBufferException, or a truncated stream
      return new Decoded(null, Status.UNKNOWN_COMMAND, "entry does not decode: " + e.getMessage());
    }
    if (batch.getSchemaVersion() != SCHEMA_VERSION) {
      return new Decoded(null, Status.UNSUPPORTED_VERSION,
          "schema version " + batch.getSchemaVersion() + " is not supported (this peer knows " + SCHEMA_VERSION + ")");
    }
    if (batch.getCommandsCount() == 0) {
      return new Decoded(null, Status.INVALID_ARGUMENT, "entry has no command");
    }
    if (batch.getCommandsCount() > Limits.BATCH_COMMANDS_MAX) {
      return new Decoded(null, Status.LIMIT_EXCEEDED,
          "entry has " + batch.getCommandsCount() + " commands; the limit is " + Limits.BATCH_COMMANDS_MAX);
    }
    return new Decoded(batch, null, null);
  }

  /** The answer to an entry that could not be decoded: one error result. */
  public static BatchResult rejected(Decoded decoded, long revision) {
    return BatchResult.newBuilder()
        .addResults(Result.newBuilder()
            .setStatus(decoded.errorStatus())
            .setDetail(decoded.errorDetail())
            .setRevision(revision))
        .build();
  }
}
