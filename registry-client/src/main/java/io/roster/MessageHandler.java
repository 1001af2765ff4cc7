package io.roster;

/** What a process does with each message it receives. Throwing kills the process. */
@FunctionalInterface
public interface MessageHandler {
  void handle(LocalProcess self, byte[] message) throws Exception;
}
