package io.roster.core;

import io.roster.core.RegistryCore.Outcome;
import io.roster.mirror.Mirror;
import io.roster.proto.Command;
import io.roster.proto.Result;
import io.roster.schema.Change;
import java.util.ArrayList;
import java.util.List;

/** The pure core applied to a mirror, with no store and no Ratis: each run is one entry. */
public final class CoreHarness {
  final RegistryCore core = new RegistryCore();
  public final Mirror mirror = new Mirror();
  final List<Change> changes = new ArrayList<>();
  long revision;

  public Result run(Command command) {
    revision++;
    Outcome outcome = core.apply(mirror, command, revision, 0);
    outcome.changes().forEach(mirror::apply);
    changes.addAll(outcome.changes());
    mirror.appliedIndex(revision);
    return outcome.result();
  }

  /** Applies and returns the changes of this command only. */
  List<Change> changesOf(Command command) {
    int before = changes.size();
    run(command);
    return List.copyOf(changes.subList(before, changes.size()));
  }
}
