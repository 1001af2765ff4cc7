#!/usr/bin/env bash
# Roster vs etcd vs ZooKeeper under the same closed loop, on this machine, 127.0.0.1 only.
# Installs etcd-server, etcd-client and zookeeper from apt if missing (needs root). Each system runs
# alone: etcd's 3 members, then ZooKeeper's 3 JVMs, then Roster's 3 node processes, each started after
# the one before is stopped and checked gone, and only on an idle machine (MIN_IDLE percent of the
# CPU idle over 5 s, default 90; it refuses otherwise). Each operation of each system is warmed by the
# same rule (closed-loop windows of STEADY_WINDOW at 64 in flight until 3 successive windows are within
# 5% of each other, at most STEADY_MAX), then each point gets WARMUP and DURATION measured.
# Prints a table and a last line "summary: ...", writes benchmarks/results/compare.png and .txt.
# IN_FLIGHT: 1,16,64,256.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
IN_FLIGHT="${IN_FLIGHT:-1,16,64,256}"
STEADY_WINDOW="${STEADY_WINDOW:-PT10S}"
STEADY_MAX="${STEADY_MAX:-PT300S}"
MIN_IDLE="${MIN_IDLE:-90}"
DURATION="${DURATION:-PT10S}"
WARMUP="${WARMUP:-PT3S}"
ETCD_CLIENT_PORTS=(23791 23792 23793)
ETCD_PEER_PORTS=(23801 23802 23803)
ZK_CLIENT_PORTS=(21811 21812 21813)
ZK_QUORUM_PORTS=(28881 28882 28883)
ZK_ELECTION_PORTS=(38881 38882 38883)

work="$(mktemp -d /tmp/roster-compare-XXXXXX)"
# the measured points, kept if the report fails
points="$root/benchmarks/results/compare-points.csv"
mkdir -p "$root/benchmarks/results"
: > "$points"
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then echo "process $p did not stop" >&2; return 1; fi
  done
  pids=()
}
cleanup() {
  stop_all || true
  rm -rf "$work"
}
trap cleanup EXIT

# Percent of CPU time idle over 5 s, from /proc/stat.
idle_percent() {
  local a b
  a=($(head -n 1 /proc/stat)); sleep 5; b=($(head -n 1 /proc/stat))
  awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); total = 0
    for (i = 2; i <= 9 && i <= n; i++) total += y[i] - x[i]
    idle = y[5] - x[5]   # idle only: a box waiting on its disk is busy for these fsync-bound systems
    printf "%.1f", (total > 0 ? 100 * idle / total : 0) }'
}
require_idle() {
  local idle
  idle="$(idle_percent)"
  echo "# machine idle before $1: $idle% of the CPU over 5 s" | tee -a "$points" >&2
  if awk -v i="$idle" -v m="$MIN_IDLE" 'BEGIN { exit !(i < m) }'; then
    echo "the machine is busy ($idle% idle, MIN_IDLE=$MIN_IDLE): stop what runs and try again" >&2
    exit 1
  fi
}
ports_closed() {
  for port in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "port $port still answers" >&2; return 1; fi
  done
}
measure() {
  java -Xmx2g -jar benchmarks/compare/target/compare.jar measure --system "$1" "${@:2}" --points "$points" \
    --in-flight "$IN_FLIGHT" --duration "$DURATION" --warmup "$WARMUP" --steady-window "$STEADY_WINDOW" \
    --steady-max "$STEADY_MAX"
}

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server etcd-client)
[ -f /usr/share/java/zookeeper.jar ] || missing+=(zookeeper)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} from apt..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q "${missing[@]}" >&2
fi

for port in "${ETCD_CLIENT_PORTS[@]}" "${ETCD_PEER_PORTS[@]}" "${ZK_CLIENT_PORTS[@]}" "${ZK_QUORUM_PORTS[@]}" "${ZK_ELECTION_PORTS[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port on 127.0.0.1 is in use; stop what uses it (or edit the ports at the top of $0)" >&2
    exit 1
  fi
done

echo "building roster and the comparison tool..." >&2
(cd "$root" && mvn -B -q -DskipTests install && mvn -B -q -DskipTests -f benchmarks/compare/pom.xml package) >&2

machine="$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(java -version 2>&1 | head -n 1 || true)"
echo "in-flight $IN_FLIGHT, warm-up until steady ($STEADY_WINDOW windows, at most $STEADY_MAX), then $WARMUP + $DURATION per point" >&2
cd "$root"

require_idle etcd
cluster=""
for i in 0 1 2; do
  cluster+="${cluster:+,}e$i=http://127.0.0.1:${ETCD_PEER_PORTS[$i]}"
done
endpoints=""
for i in 0 1 2; do
  etcd --name "e$i" --data-dir "$work/etcd$i" \
    --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}" \
    --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}" \
    --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$i]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$i]}" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token roster-compare \
    > "$work/etcd$i.log" 2>&1 &
  pids+=("$!")
  endpoints+="${endpoints:+,}http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}"
done
echo "etcd: $endpoints" >&2
measure etcd --etcd "$endpoints"
stop_all
ports_closed "${ETCD_CLIENT_PORTS[@]}" "${ETCD_PEER_PORTS[@]}"

require_idle zookeeper
zk=""
for i in 0 1 2; do
  mkdir -p "$work/zk$i"
  echo "$((i + 1))" > "$work/zk$i/myid"
  {
    echo "tickTime=2000"; echo "initLimit=10"; echo "syncLimit=5"
    echo "dataDir=$work/zk$i"; echo "clientPort=${ZK_CLIENT_PORTS[$i]}"; echo "clientPortAddress=127.0.0.1"
    echo "admin.enableServer=false"; echo "4lw.commands.whitelist=ruok"
    for j in 0 1 2; do echo "server.$((j + 1))=127.0.0.1:${ZK_QUORUM_PORTS[$j]}:${ZK_ELECTION_PORTS[$j]}"; done
  } > "$work/zk$i.cfg"
  # the same heap as a Roster voter process
  java -Xmx1g -cp /usr/share/java/zookeeper.jar org.apache.zookeeper.server.quorum.QuorumPeerMain "$work/zk$i.cfg" \
    > "$work/zk$i.log" 2>&1 &
  pids+=("$!")
  zk+="${zk:+,}127.0.0.1:${ZK_CLIENT_PORTS[$i]}"
done
echo "zookeeper: $zk" >&2
measure zookeeper --zk "$zk"
stop_all
ports_closed "${ZK_CLIENT_PORTS[@]}" "${ZK_QUORUM_PORTS[@]}" "${ZK_ELECTION_PORTS[@]}"

# Roster's measure starts its 3 node processes and stops them before it returns
require_idle roster
measure roster --roster-jar registry-server/target/roster.jar

java -jar benchmarks/compare/target/compare.jar report --points "$points" \
  --chart benchmarks/results/compare.png --machine "$machine" | tee benchmarks/results/compare.txt
