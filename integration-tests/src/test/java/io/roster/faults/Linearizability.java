package io.roster.faults;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * A linearizability checker, key by key: the Wing–Gong search with Lowe's memo of (operations
 * linearized, state) pairs, as Porcupine and Knossos do it.
 *
 * <p>An operation may be linearized at any point between its invocation and its return. An
 * indeterminate one (its return time {@link Op#INDETERMINATE}) may be linearized at any point after
 * its invocation or never; an indeterminate read is dropped, as it constrains nothing. A history is
 * linearizable when an order of all its determinate operations (and some indeterminate ones) respects
 * real time and the model. The search gives up after {@code budget} steps on one key and says so.
 */
public final class Linearizability {
  private Linearizability() {}

  /** The outcome for one key. */
  public record Verdict(String key, int ops, boolean linearizable, boolean gaveUp, String explanation) {}

  /** The outcome over every key of a history. */
  public record Report(List<Verdict> verdicts) {
    public List<Verdict> anomalies() {
      return verdicts.stream().filter(v -> !v.linearizable() && !v.gaveUp()).toList();
    }

    public List<Verdict> undecided() {
      return verdicts.stream().filter(Verdict::gaveUp).toList();
    }

    public int ops() {
      return verdicts.stream().mapToInt(Verdict::ops).sum();
    }

    @Override
    public String toString() {
      return verdicts.size() + " keys, " + ops() + " operations, " + anomalies().size() + " not linearizable, "
          + undecided().size() + " undecided" + anomalies().stream().map(v -> "\n  " + v.explanation())
          .collect(Collectors.joining());
    }
  }

  public static <S> Report check(List<Op> history, Model<S> model) {
    return check(history, model, 2_000_000);
  }

  public static <S> Report check(List<Op> history, Model<S> model, long budget) {
    Map<String, List<Op>> byKey = new TreeMap<>();
    for (Op op : history) {
      byKey.computeIfAbsent(op.key(), k -> new ArrayList<>()).add(op);
    }
    List<Verdict> verdicts = new ArrayList<>();
    byKey.forEach((key, ops) -> verdicts.add(checkKey(key, ops, model, budget)));
    return new Report(verdicts);
  }

  /** One entry of the event list: an invocation or a return, linked both ways. */
  private static final class Entry {
    final Op op;
    final int bit;
    final boolean call;
    final long time;
    Entry match; // a call's return
    Entry prev;
    Entry next;

    Entry(Op op, int bit, boolean call, long time) {
      this.op = op;
      this.bit = bit;
      this.call = call;
      this.time = time;
    }
  }

  private record Memo(BitSet linearized, Object state) {}

  private record Frame(Entry call, Object state) {}

  @SuppressWarnings("unchecked")
  static <S> Verdict checkKey(String key, List<Op> all, Model<S> model, long budget) {
    List<Op> ops = all.stream().filter(o -> !(o.indeterminate() && o.f().equals("read"))).toList();
    List<Entry> events = new ArrayList<>();
    int determinate = 0;
    for (int i = 0; i < ops.size(); i++) {
      Op op = ops.get(i);
      if (!op.indeterminate() && op.ret() < op.call()) {
        throw new IllegalArgumentException("returns before it is invoked: " + op);
      }
      Entry call = new Entry(op, i, true, op.call());
      Entry ret = new Entry(op, i, false, op.ret());
      call.match = ret;
      events.add(call);
      events.add(ret);
      if (!op.indeterminate()) {
        determinate++;
      }
    }
    // by time; at a tie an invocation comes first (the two operations overlap)
    events.sort(Comparator.comparingLong((Entry e) -> e.time).thenComparing(e -> !e.call));
    Entry head = new Entry(null, -1, true, Long.MIN_VALUE); // sentinel
    Entry last = head;
    for (Entry e : events) {
      last.next = e;
      e.prev = last;
      last = e;
    }

    S state = model.init();
    BitSet linearized = new BitSet(ops.size());
    Set<Memo> seen = new HashSet<>();
    List<Frame> stack = new ArrayList<>();
    int remaining = determinate;
    int deepest = 0;
    List<Op> deepestOrder = List.of();
    Entry entry = head.next;
    long steps = 0;
    while (remaining > 0) {
      if (++steps > budget) {
        return new Verdict(key, ops.size(), false, true, key + ": gave up after " + budget + " steps");
      }
      if (entry == null) {
        throw new IllegalStateException("unreachable: determinate operations remain but the list ended");
      }
      if (entry.call) {
        S next = model.step(state, entry.op);
        if (next != null) {
          BitSet with = (BitSet) linearized.clone();
          with.set(entry.bit);
          if (seen.add(new Memo(with, next))) {
            stack.add(new Frame(entry, state));
            state = next;
            linearized = with;
            if (!entry.op.indeterminate()) {
              remaining--;
            }
            lift(entry);
            if (stack.size() > deepest) {
              deepest = stack.size();
              deepestOrder = stack.stream().map(f -> f.call().op).toList();
            }
            entry = head.next;
            continue;
          }
        }
        entry = entry.next;
      } else {
        // a return: its operation had to be placed before this point (or, at an indeterminate
        // one, only indeterminate returns follow while determinate operations remain unplaced)
        if (stack.isEmpty()) {
          return fail(key, ops, deepestOrder);
        }
        Frame f = stack.remove(stack.size() - 1);
        state = (S) f.state();
        linearized.clear(f.call().bit);
        if (!f.call().op.indeterminate()) {
          remaining++;
        }
        unlift(f.call());
        entry = f.call().next;
      }
    }
    return new Verdict(key, ops.size(), true, false, key + ": linearizable");
  }

  private static Verdict fail(String key, List<Op> ops, List<Op> deepestOrder) {
    Set<Integer> placed = deepestOrder.stream().map(Op::id).collect(Collectors.toSet());
    String unplaced = ops.stream().filter(o -> !placed.contains(o.id()) && !o.indeterminate()).limit(6)
        .map(Op::toString).collect(Collectors.joining("; "));
    String order = deepestOrder.stream().skip(Math.max(0, deepestOrder.size() - 6)).map(Op::toString)
        .collect(Collectors.joining("; "));
    return new Verdict(key, ops.size(), false, false, key + ": not linearizable; the longest order found ends "
        + "[" + order + "], and cannot then place [" + unplaced + "]");
  }

  /** Takes a call and its return out of the list. */
  private static void lift(Entry call) {
    call.prev.next = call.next;
    if (call.next != null) {
      call.next.prev = call.prev;
    }
    Entry ret = call.match;
    ret.prev.next = ret.next;
    if (ret.next != null) {
      ret.next.prev = ret.prev;
    }
  }

  /** Puts a lifted call and its return back, in the reverse order of {@link #lift}. */
  private static void unlift(Entry call) {
    Entry ret = call.match;
    ret.prev.next = ret;
    if (ret.next != null) {
      ret.next.prev = ret;
    }
    call.prev.next = call;
    if (call.next != null) {
      call.next.prev = call;
    }
  }
}
