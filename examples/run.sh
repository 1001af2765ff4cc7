#!/usr/bin/env bash
# Two Spring Boot services that find and call each other through Roster, on loopback:
# a 3-voter cluster (roster node processes, mutual TLS with certificates made here), the greeter
# service, then the caller service, which finds the greeter through Roster (Spring Cloud
# DiscoveryClient and LoadBalancer), calls it and prints the answer. Everything it starts is stopped
# and its temp directory removed when it ends. Usage: bash examples/run.sh
set -euo pipefail
if [ "${BASH_VERSINFO[0]}" -lt 4 ] || { [ "${BASH_VERSINFO[0]}" -eq 4 ] && [ "${BASH_VERSINFO[1]}" -lt 4 ]; }; then
  echo "run.sh needs bash 4.4 or later (this is $BASH_VERSION)" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d -t roster-examples.XXXXXX)"
pids=()
cleanup() {
  local code=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do # up to 5 s for goodbyes, then no more waiting
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  if [ "$code" = 0 ]; then
    rm -rf "$work"
  else
    echo "failed (exit $code): the logs are in $work" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "[1] building Roster and the two services (the first time takes a few minutes)..."
(cd "$root" && mvn -B -q -Dstyle.color=never -DskipTests install -pl roster-bom,roster-spring-boot-starter,registry-server -am) >&2
(cd "$root/examples" && mvn -B -q -Dstyle.color=never -DskipTests package) >&2
roster=(java -Xmx512m -jar "$root/registry-server/target/roster.jar")

free_port() { # a port nothing listens on now
  while true; do
    local p=$((20000 + RANDOM % 40000))
    if ! (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}

echo "[2] a certificate authority and certificates in $work"
"${roster[@]}" cert ca --dir "$work/ca" >/dev/null
voters=""
for id in n1 n2 n3; do
  "${roster[@]}" cert issue --ca-dir "$work/ca" --id "$id" --role voter --host 127.0.0.1 --out "$work/certs" >/dev/null
  voters="${voters:+$voters,}$id=127.0.0.1:$(free_port)"
done
for id in greeter-1 caller-1; do
  "${roster[@]}" cert issue --ca-dir "$work/ca" --id "$id" --role client --host 127.0.0.1 --out "$work/certs" >/dev/null
done

echo "[3] starting voters: $voters"
for id in n1 n2 n3; do
  "${roster[@]}" node --id "$id" --voters "$voters" --data "$work/$id" --tls-cert "$work/certs/$id.pem" \
    --tls-key "$work/certs/$id-key.pem" --tls-ca "$work/ca/ca.pem" >"$work/$id.log" 2>&1 &
  pids+=($!)
done

app_args() { # the roster.* properties of application node $1, named $2
  local args=(--roster.node-id="$1" --spring.application.name="$2" --roster.tls.cert="$work/certs/$1.pem"
    --roster.tls.key="$work/certs/$1-key.pem" --roster.tls.ca="$work/ca/ca.pem" --roster.discovery.host=127.0.0.1
    --server.address=127.0.0.1 --server.port=0 --spring.main.banner-mode=off --logging.level.root=WARN)
  IFS=',' read -ra entries <<<"$voters"
  for entry in "${entries[@]}"; do args+=(--roster.voters."${entry%%=*}"="${entry#*=}"); done
  printf '%s\n' "${args[@]}"
}

for _ in $(seq 600); do # until every voter has its session open (a leader elected), at most 60 s
  ready=0
  for id in n1 n2 n3; do grep -q "session in cluster open" "$work/$id.log" 2>/dev/null && ready=$((ready + 1)); done
  [ "$ready" = 3 ] && break
  sleep 0.1
done
[ "$ready" = 3 ] || { echo "the voters did not form a cluster within 60 s" >&2; exit 1; }

echo "[4] starting the greeter service (registers itself in Roster as 'greeter')"
mapfile -t greeter_args < <(app_args greeter-1 greeter)
java -Xmx256m -jar "$root/examples/greeter-service/target/greeter-service.jar" "${greeter_args[@]}" \
  >"$work/greeter.log" 2>&1 &
pids+=($!)

echo "[5] running the caller service: it finds the greeter through Roster and calls it"
mapfile -t caller_args < <(app_args caller-1 caller)
java -Xmx256m -jar "$root/examples/caller-service/target/caller-service.jar" "${caller_args[@]}" \
  --spring.main.web-application-type=none >"$work/caller.log" 2>&1 &
caller=$!
pids+=("$caller")
if ! wait "$caller"; then
  echo "the caller failed; its log:" >&2
  cat "$work/caller.log" >&2
  echo "the greeter's log (end):" >&2
  tail -20 "$work/greeter.log" >&2
  exit 1
fi
grep '^caller:' "$work/caller.log"
echo "[6] stopping everything"
