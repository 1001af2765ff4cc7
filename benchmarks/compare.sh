#!/usr/bin/env bash
# Roster vs etcd vs ZooKeeper under the same closed loop, on this machine, 127.0.0.1 only.
# Installs etcd-server, etcd-client and zookeeper from apt if missing (needs root), starts 3-member
# etcd and ZooKeeper clusters, runs benchmarks/compare (Roster runs as 3 node processes), prints a
# table and a last line "summary: ...", writes benchmarks/results/compare.png, and stops everything
# it started. Every system gets the same untimed warm-up first (SYSTEM_WARMUP, PT60S: fresh JVMs keep compiling for longer than 20 s), then each point
# its own warm-up (WARMUP, PT3S) and measured period (DURATION, PT10S). IN_FLIGHT: 1,16,64,256.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
IN_FLIGHT="${IN_FLIGHT:-1,16,64,256}"
SYSTEM_WARMUP="${SYSTEM_WARMUP:-PT60S}"
DURATION="${DURATION:-PT10S}"
WARMUP="${WARMUP:-PT3S}"
ETCD_CLIENT_PORTS=(23791 23792 23793)
ETCD_PEER_PORTS=(23801 23802 23803)
ZK_CLIENT_PORTS=(21811 21812 21813)
ZK_QUORUM_PORTS=(28881 28882 28883)
ZK_ELECTION_PORTS=(38881 38882 38883)

work="$(mktemp -d /tmp/roster-compare-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

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
  java -Xmx512m -cp /usr/share/java/zookeeper.jar org.apache.zookeeper.server.quorum.QuorumPeerMain "$work/zk$i.cfg" \
    > "$work/zk$i.log" 2>&1 &
  pids+=("$!")
  zk+="${zk:+,}127.0.0.1:${ZK_CLIENT_PORTS[$i]}"
done

echo "etcd: $endpoints; zookeeper: $zk; in-flight $IN_FLIGHT, $WARMUP warm-up + $DURATION per point" >&2
machine="$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(java -version 2>&1 | head -n 1 || true)"
cd "$root"
java -Xmx2g -jar benchmarks/compare/target/compare.jar --etcd "$endpoints" --zk "$zk" \
  --in-flight "$IN_FLIGHT" --duration "$DURATION" --warmup "$WARMUP" --system-warmup "$SYSTEM_WARMUP" \
  --roster-jar registry-server/target/roster.jar --chart benchmarks/results/compare.png --machine "$machine"
