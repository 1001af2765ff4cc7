package io.roster.faults;

import java.util.List;
import java.util.Map;

/** A part of a fault run's workload with checks of its own, run beside the recorded register/read history. */
interface SideWorkload {
  /** Stops its threads (each ends its call in flight); idempotent. */
  void stop();

  /** Stops its threads, then checks what they saw; returns the violations found (empty when none). */
  List<String> stopAndCheck();

  /** What it did, by name (lock holds, messages...), for the run's table; read after {@link #stopAndCheck}. */
  Map<String, Long> counts();
}
