package io.roster.internal.messaging;

import io.roster.CallException;
import io.roster.LimitExceededException;
import io.roster.LocalProcess;
import io.roster.Mail;
import io.roster.MessageHandler;
import io.roster.Pid;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The live processes of a node, their mailboxes, and what happens when one dies. */
public final class ProcessTable {
  private static final Logger LOG = LoggerFactory.getLogger(ProcessTable.class);
  static final int MAILBOX_CAPACITY = 1024;
  /** Bytes of message bodies one mailbox holds at most. */
  static final long MAILBOX_BYTES_MAX = 64L << 20;
  private static final int MESSAGES_PER_TURN = 64;

  /** What became of a message handed to a process. */
  enum Delivery {
    DELIVERED,
    /** No such live process: the message was dropped (a call is failed with NO_PROCESS by the caller). */
    NO_PROCESS,
    MAILBOX_FULL
  }

  private final String nodeId;
  /** This node's incarnation, which a voter renews when it rejoins after its session expired. */
  private volatile long incarnation;
  private final ExecutorService executor;
  /** Proposes the removal of a dead process's names; completes once this node's mirror applied it. */
  private final Function<Pid, CompletableFuture<Void>> onDeath;
  /** How long {@link LocalProcess#close()} waits for that removal. */
  private final long closeWaitMillis;
  private final AtomicLong serials = new AtomicLong();
  private final ConcurrentHashMap<Pid, Proc> live = new ConcurrentHashMap<>();

  /** Processes alive at once at most. */
  private final int processesMax;

  public ProcessTable(String nodeId, long incarnation, ExecutorService executor,
      Function<Pid, CompletableFuture<Void>> onDeath, long closeWaitMillis) {
    this(nodeId, incarnation, executor, onDeath, closeWaitMillis, io.roster.RegistryNode.Builder.PROCESSES_MAX_DEFAULT);
  }

  public ProcessTable(String nodeId, long incarnation, ExecutorService executor,
      Function<Pid, CompletableFuture<Void>> onDeath, long closeWaitMillis, int processesMax) {
    this.processesMax = processesMax;
    this.nodeId = nodeId;
    this.incarnation = incarnation;
    this.executor = executor;
    this.onDeath = onDeath;
    this.closeWaitMillis = closeWaitMillis;
  }

  /** @throws io.roster.LimitExceededException if {@code processesMax} processes are alive */
  public synchronized LocalProcess spawn(MessageHandler handler) {
    if (live.size() >= processesMax) {
      throw new io.roster.LimitExceededException("node " + nodeId + " has " + live.size() + " processes alive, its "
          + "limit (RegistryNode.Builder.processesMax): close some first");
    }
    Proc p = new Proc(Pid.of(nodeId, incarnation, serials.incrementAndGet()), handler);
    live.put(p.pid, p);
    return p;
  }

  /** The live process with this pid, or null. */
  public LocalProcess get(Pid pid) {
    return live.get(pid);
  }

  /** Hands a message to the live process {@code to}. */
  Delivery deliver(Pid to, MailImpl mail) {
    Proc p = live.get(to);
    return p == null ? Delivery.NO_PROCESS : p.deliver(mail);
  }

  int size() {
    return live.size();
  }

  /** Kills every process without proposing their removal (the node's session end removes them all). */
  /**
   * The pids of processes spawned from now on carry {@code next}; a process of an older incarnation
   * still alive (spawned while the old one was being killed) dies now.
   */
  public synchronized void renew(long next) {
    incarnation = next;
    for (Proc p : new ArrayList<>(live.values())) {
      if (p.pid.incarnation() != next) {
        p.die(null, false);
      }
    }
  }

  /** Kills every live process (the node stops, or its session expired). */
  public void killAll() {
    for (Proc p : new ArrayList<>(live.values())) {
      p.die(null, false);
    }
  }

  /**
   * A message in a mailbox; a call carries what settles it (answers it, or fails it). Settling
   * happens once, whoever comes first: the reply, or the process's death.
   */
  static final class MailImpl implements Mail {
    /** Settles a call: the answer, or the reason there is none. */
    interface Settler {
      void settle(byte[] answer, CallException.Reason failure, String detail);
    }

    private final byte[] body;
    private final Settler settler; // null for a send
    private final AtomicBoolean settled = new AtomicBoolean();
    private volatile Runnable onSettled = () -> { };

    MailImpl(byte[] body, Settler settler) {
      this.body = body;
      this.settler = settler;
    }

    @Override
    public byte[] body() {
      return body;
    }

    @Override
    public boolean isCall() {
      return settler != null;
    }

    @Override
    public boolean reply(byte[] answer) {
      if (settler == null) {
        throw new IllegalStateException("this message is not a call: there is nobody to reply to");
      }
      java.util.Objects.requireNonNull(answer, "answer");
      if (answer.length > Messaging.BODY_BYTES_MAX) {
        throw new LimitExceededException("a reply is at most " + Messaging.BODY_BYTES_MAX + " bytes, was "
            + answer.length);
      }
      if (!settled.compareAndSet(false, true)) {
        return false;
      }
      onSettled.run();
      settler.settle(answer.clone(), null, null);
      return true;
    }

    /** Whether the call was answered or failed (always false for a send). */
    boolean settled() {
      return settled.get();
    }

    /** Fails an unanswered call (no-op for a send or a settled call). */
    void fail(CallException.Reason reason, String detail) {
      if (settler != null && settled.compareAndSet(false, true)) {
        onSettled.run();
        settler.settle(null, reason, detail);
      }
    }
  }

  public final class Proc implements LocalProcess {
    private final Pid pid;
    private final MessageHandler handler;
    private final ArrayBlockingQueue<MailImpl> mailbox = new ArrayBlockingQueue<>(MAILBOX_CAPACITY);
    /** Calls delivered and not yet settled: failed at once if this process dies. */
    private final Set<MailImpl> unanswered = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean alive = new AtomicBoolean(true);
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicLong mailboxBytes = new AtomicLong();
    private volatile long viaRevision;
    private final CompletableFuture<Void> exited = new CompletableFuture<>();

    Proc(Pid pid, MessageHandler handler) {
      this.pid = pid;
      this.handler = handler;
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
    public long viaRevision() {
      return viaRevision;
    }

    public void viaRevision(long revision) {
      viaRevision = revision;
    }

    @Override
    public java.util.concurrent.CompletionStage<Void> exited() {
      return exited.minimalCompletionStage();
    }

    @Override
    public Throwable failure() {
      return failure.get();
    }

    @Override
    public boolean tell(byte[] message) {
      switch (deliver(new MailImpl(message.clone(), null))) {
        case DELIVERED:
          return true;
        case MAILBOX_FULL:
          throw new LimitExceededException("mailbox of " + pid + " is full (" + MAILBOX_CAPACITY + " messages)");
        default:
          return false;
      }
    }

    Delivery deliver(MailImpl mail) {
      if (!alive.get()) {
        return Delivery.NO_PROCESS;
      }
      if (mail.isCall()) {
        mail.onSettled = () -> unanswered.remove(mail);
        unanswered.add(mail);
      }
      long bytes = mailboxBytes.addAndGet(mail.body.length);
      if (bytes > MAILBOX_BYTES_MAX || !mailbox.offer(mail)) {
        mailboxBytes.addAndGet(-mail.body.length);
        if (mail.isCall()) {
          unanswered.remove(mail);
        }
        return Delivery.MAILBOX_FULL;
      }
      if (!alive.get()) { // died while the mail went in: its death may have missed it
        mail.fail(CallException.Reason.CALLEE_DIED, pid + " died");
        return Delivery.DELIVERED;
      }
      if (handler != null) {
        schedule();
      }
      return Delivery.DELIVERED;
    }

    @Override
    public Mail receive(Duration timeout) throws InterruptedException {
      if (handler != null) {
        throw new IllegalStateException(pid + " has a handler: its messages go to the handler");
      }
      if (!alive.get()) {
        return null;
      }
      return taken(mailbox.poll(Math.max(0, timeout.toNanos()), TimeUnit.NANOSECONDS));
    }

    private MailImpl taken(MailImpl m) {
      if (m != null) {
        mailboxBytes.addAndGet(-m.body.length);
      }
      return m;
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
          MailImpl m = taken(mailbox.poll());
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

    /** Returns what completes once the removal of its names applied here; null if it was dead already. */
    CompletableFuture<Void> die(Throwable cause, boolean propose) {
      if (alive.compareAndSet(true, false)) {
        failure.set(cause);
        live.remove(pid);
        mailbox.clear();
        mailboxBytes.set(0);
        String why = pid + " died" + (cause == null ? "" : ": its handler threw " + cause);
        for (MailImpl call : new ArrayList<>(unanswered)) {
          call.fail(CallException.Reason.CALLEE_DIED, why);
        }
        exited.completeAsync(() -> null, ForkJoinPool.commonPool()); // not in the killer's thread
        return propose ? onDeath.apply(pid) : CompletableFuture.completedFuture(null);
      }
      return null;
    }

    @Override
    public void close() {
      CompletableFuture<Void> removed = die(null, true);
      if (removed == null) {
        return;
      }
      try {
        removed.get(closeWaitMillis, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        // the removal goes on in the background; local reads here hide the names meanwhile
        LOG.debug("{}: its names are not removed here yet: {}", pid, e.toString());
      }
    }

    @Override
    public String toString() {
      return "process " + pid + (alive.get() ? "" : " (dead)");
    }
  }
}
