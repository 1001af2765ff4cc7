package io.roster.schema;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import io.roster.Pid;
import io.roster.proto.BatchResult;
import io.roster.proto.Command;
import io.roster.proto.CommandBatch;
import io.roster.proto.PidProto;
import io.roster.proto.Result;
import io.roster.proto.Status;
import io.roster.proto.WriterTag;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.zip.CRC32C;

/** Encoding of the command schema: pids, batches and their decoding with validation. */
public final class Codec {
  /** The schema version this build writes and understands. */
  public static final int SCHEMA_VERSION = 1;

  private Codec() {}

  /** A pid on the wire. */
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

  /** The first byte of every framed entry. */
  static final byte MAGIC = 'R';
  static final int FRAME_HEADER_BYTES = 6;

  /** The commands of one Raft entry, in order. */
  public static CommandBatch batchOf(List<Command> commands) {
    return CommandBatch.newBuilder().addAllCommands(commands).build();
  }

  /**
   * The commands of one Raft entry, in order, sent by writer {@code writer} of node {@code nodeId}
   * as its {@code seq}-th entry (see {@link WriterTag}).
   */
  public static CommandBatch batchOf(List<Command> commands, String nodeId, long writer, long seq) {
    return CommandBatch.newBuilder().addAllCommands(commands)
        .setWriter(WriterTag.newBuilder().setNodeId(nodeId).setWriter(writer).setSeq(seq)).build();
  }

  /** The commands of one Raft entry, in order. */
  public static CommandBatch batchOf(Command... commands) {
    return batchOf(List.of(commands));
  }

  /** Frames a batch for the Raft log: magic, schema version, CRC32C of the payload, payload. */
  public static byte[] encode(CommandBatch batch) {
    byte[] payload = batch.toByteArray();
    CRC32C crc = new CRC32C();
    crc.update(payload);
    return ByteBuffer.allocate(FRAME_HEADER_BYTES + payload.length)
        .put(MAGIC).put((byte) SCHEMA_VERSION).putInt((int) crc.getValue()).put(payload).array();
  }

  /** Frames the batch of {@code commands} for the Raft log ({@link #encode(CommandBatch)}). */
  public static byte[] encode(Command... commands) {
    return encode(batchOf(commands));
  }

  /** A decoded batch, or why the bytes are not one. */
  public record Decoded(CommandBatch batch, Status errorStatus, String errorDetail) {
    /** Whether the bytes were a valid batch. */
    public boolean ok() {
      return batch != null;
    }
  }

  /**
   * Checks and decodes a Raft entry's bytes. Never throws: bytes that are not a frame, fail the
   * CRC, exceed the limits, carry an unknown schema version or do not decode come back as an error.
   */
  public static Decoded decodeBatch(ByteString bytes) {
    if (bytes.size() > Limits.BATCH_BYTES_MAX) {
      return new Decoded(null, Status.LIMIT_EXCEEDED,
          "entry is " + bytes.size() + " bytes; the limit is " + Limits.BATCH_BYTES_MAX);
    }
    if (bytes.size() < FRAME_HEADER_BYTES || bytes.byteAt(0) != MAGIC) {
      return new Decoded(null, Status.UNKNOWN_COMMAND, "entry is not a Roster command frame");
    }
    int version = Byte.toUnsignedInt(bytes.byteAt(1));
    if (version != SCHEMA_VERSION) {
      return new Decoded(null, Status.UNSUPPORTED_VERSION,
          "schema version " + version + " is not supported (this peer knows " + SCHEMA_VERSION + ")");
    }
    ByteBuffer frame = bytes.asReadOnlyByteBuffer();
    int expectedCrc = frame.getInt(2);
    ByteBuffer payload = frame.position(FRAME_HEADER_BYTES).slice();
    CRC32C crc = new CRC32C();
    crc.update(payload.duplicate());
    if ((int) crc.getValue() != expectedCrc) {
      return new Decoded(null, Status.UNKNOWN_COMMAND, "entry is corrupt: CRC32C mismatch");
    }
    CommandBatch batch;
    try {
      CodedInputStream in = CodedInputStream.newInstance(payload);
      in.setRecursionLimit(16);
      batch = CommandBatch.parseFrom(in);
    } catch (IOException e) { // InvalidProtocolBufferException, or a truncated stream
      return new Decoded(null, Status.UNKNOWN_COMMAND, "entry does not decode: " + e.getMessage());
    }
    if (batch.getCommandsCount() == 0) {
      return new Decoded(null, Status.INVALID_ARGUMENT, "entry has no command");
    }
    if (batch.getCommandsCount() > Limits.BATCH_COMMANDS_MAX) {
      return new Decoded(null, Status.LIMIT_EXCEEDED,
          "entry has " + batch.getCommandsCount() + " commands; the limit is " + Limits.BATCH_COMMANDS_MAX);
    }
    if (batch.hasWriter()) {
      WriterTag w = batch.getWriter();
      int nodeIdBytes = Limits.utf8Length(w.getNodeId());
      if (nodeIdBytes == 0 || nodeIdBytes > Pid.NODE_ID_BYTES_MAX || w.getWriter() <= 0 || w.getSeq() <= 0) {
        return new Decoded(null, Status.INVALID_ARGUMENT, "entry's writer is not valid: node id must be 1.."
            + Pid.NODE_ID_BYTES_MAX + " UTF-8 bytes (was " + nodeIdBytes + "), writer and seq positive (were "
            + w.getWriter() + " and " + w.getSeq() + ")");
      }
    }
    return new Decoded(batch, null, null);
  }

  /** The answer to an entry that could not be decoded: one error result. */
  public static BatchResult rejected(Decoded decoded, long index) {
    return BatchResult.newBuilder()
        .addResults(Result.newBuilder()
            .setStatus(decoded.errorStatus())
            .setDetail(decoded.errorDetail())
            .setRevision(Revisions.of(index, 0)))
        .build();
  }
}
