package io.roster;

/**
 * What a process does with each message it receives, one at a time, in mailbox order, on a Roster
 * thread. It may block (a call to another process inside it takes a thread while it waits).
 * Throwing kills the process: its names are removed cluster-wide and its unanswered calls fail at once.
 */
@FunctionalInterface
public interface MessageHandler {
  void handle(LocalProcess self, Mail mail) throws Exception;
}
