#!/usr/bin/env bash
# Randomized fault runs against real voter processes, tabulated (FaultCampaignTest).
#   bash integration-tests/faults.sh [RUNS] [SEED]
#   KINDS=kill-leader,pause-leader bash integration-tests/faults.sh 10   (only these faults)
#   bash integration-tests/faults.sh 16 44 -Droster.faults.trace=true ...   (more -D options for the test)
# Options to look into a run: -Droster.faults.keep=true keeps the voters' logs (the path is printed),
# -Droster.faults.voterRatisLog=INFO puts the voters' elections in them, -Droster.faults.trace=true prints
# the probes' stacks in each fault and each fault's probe writes, and -Droster.read.log.level=DEBUG and
# -Droster.session.log.level=DEBUG show the client nodes' change streams and heartbeats, and
# -Droster.faults.voterJvm="..." adds JVM options to the voters (which run with C1 and the serial collector).
# Needs root, iproute2 and nftables (.ci/run installs them). About 20 s a run on 2 cores (100 runs: 34 min).
# The table is printed and written to integration-tests/target/fault-campaign.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-100}"
seed_arg=()
if [ -n "${2:-}" ]; then seed_arg=("-Droster.faults.seed=$2"); fi
if [ -n "${KINDS:-}" ]; then seed_arg+=("-Droster.faults.kinds=$KINDS"); fi
mvn -B -q install -DskipTests
mvn -B verify -pl integration-tests -Dtest=FaultCampaignTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Droster.faults.runs="$runs" "${seed_arg[@]}" "${@:3}"
