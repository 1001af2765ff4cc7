package io.roster.internal;

import io.roster.LimitExceededException;
import io.roster.LocalProcess;
import io.roster.MessageHandler;
import io.roster.Pid;
import java.util.ArrayList;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The live processes of a node, their mailboxes, and what happens when one dies. */
final class ProcessTable {
  private static final Logger LOG = LoggerFactory.getLogger(ProcessTable.class);
  static final int MAILBOX_CAPACITY = 1024;
  private static final int MESSAGES_PER_TURN = 64;

  private final String nodeId;
  private final long incarnation;
  private final ExecutorService executor;
  private final Consumer<Pid> onDeath;
  private final AtomicLong serials = new AtomicLong();
  private final ConcurrentHashMap<Pid, Proc> live = new ConcurrentHashMap<>();

  ProcessTable(String nodeId, long incarnation, ExecutorService executor, Consumer<Pid> onDeath) {
    this.nodeId = nodeId;
    this.incarnation = incarnation;
    this.executor = executor;
    this.onDeath = onDeath;
  }

  LocalProcess spawn(MessageHandler handler) {
    Proc p = new Proc(Pid.of(nodeId, incarnation, serials.incrementAndGet()), handler);
    live.put(p.pid, p);
    return p;
  }

  /** The live process with this pid, or null. */
  LocalProcess get(Pid pid) {
    return live.get(pid);
  }

  int size() {
    return live.size();
  }

  /** Kills every process without proposing their removal (the node's session end removes them all). */
  void killAll() {
    for (Proc p : new ArrayList<>(live.values())) {
      p.die(null, false);
    }
  }

  final class Proc implements LocalProcess {
    private final Pid pid;
    private final MessageHandler handler;
    private final ArrayBlockingQueue<byte[]> mailbox;
    private final AtomicBoolean alive = new AtomicBoolean(true);
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    Proc(Pid pid, MessageHandler handler) {
      this.pid = pid;
      this.handler = handler;
      this.mailbox = handler == null ? null : new ArrayBlockingQueue<>(MAILBOX_CAPACITY);
    }

    @Override
    public Pid pid() {
      return pid;
    }

    @Override
    public boolean isAlive() {
      return alive.get();
    }

    @Override
    public Throwable failure() {
      return failure.get();
    }

    @Override
    public boolean tell(byte[] message) {
      if (!alive.get() || mailbox == null) {
        return false;
      }
      if (!mailbox.offer(message.clone())) {
        throw new LimitExceededException("mailbox of " + pid + " is full (" + MAILBOX_CAPACITY + " messages)");
      }
      schedule();
      return true;
    }

    private void schedule() {
      if (scheduled.compareAndSet(false, true)) {
        try {
          executor.execute(this::drain);
        } catch (RuntimeException e) { // the node is closing
          scheduled.set(false);
        }
      }
    }

    private void drain() {
      try {
        for (int i = 0; i < MESSAGES_PER_TURN && alive.get(); i++) {
          byte[] m = mailbox.poll();
          if (m == null) {
            break;
          }
          try {
            handler.handle(this, m);
          } catch (Throwable t) {
            LOG.info("process {} died: its handler threw {}", pid, t.toString());
            die(t, true);
            return;
          }
        }
      } finally {
        scheduled.set(false);
      }
      if (alive.get() && !mailbox.isEmpty()) {
        schedule();
      }
    }

    void die(Throwable cause, boolean propose) {
      if (alive.compareAndSet(true, false)) {
        failure.set(cause);
        live.remove(pid);
        if (mailbox != null) {
          mailbox.clear();
        }
        if (propose) {
          onDeath.accept(pid);
        }
      }
    }

    @Override
    public void close() {
      die(null, true);
    }

    @Override
    public String toString() {
      return "process " + pid + (alive.get() ? "" : " (dead)");
    }
  }
}
