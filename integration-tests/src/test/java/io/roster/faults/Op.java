package io.roster.faults;

/**
 * One operation of a recorded history: who called what on which key, when it was invoked and when
 * it returned (nanoseconds on one clock), and what it returned.
 *
 * <p>An operation whose outcome is unknown (a timeout, no leader) has {@link #INDETERMINATE} as its
 * return time: it may have taken effect at any point after its invocation, or never.
 *
 * @param id unique in its history, from 0
 * @param client the caller (a thread of a node)
 * @param key the key the operation is about; histories are checked key by key
 * @param f the function: register, unregister, read (and the functions of other models)
 * @param arg what was asked (the calling process's pid, say)
 * @param out what came back: "ok", "taken:OWNER", a pid or "none" for a read; null when indeterminate
 */
public record Op(int id, String client, String key, String f, String arg, String out, long call, long ret) {
  public static final long INDETERMINATE = Long.MAX_VALUE;

  public boolean indeterminate() {
    return ret == INDETERMINATE;
  }

  @Override
  public String toString() {
    String when = indeterminate() ? call + "..?" : call + ".." + ret;
    return "#" + id + " " + client + " " + f + "(" + key + (arg == null ? "" : ", " + arg) + ") -> "
        + (indeterminate() ? "?" : out) + " [" + when + "]";
  }
}
