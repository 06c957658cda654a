#!/usr/bin/env bash
# keygate beside nginx with one of two upstream targets stopped, in one run.
#
#   bench/failover.sh [KEYGATE_BINARY]
#   REPS=3 DURATION=10s CONCS="50 200" bench/failover.sh target/release/keygate
#
# Both gateways do the benchmark job (bench/peers/peers.sh) with two upstream targets: the
# peers' nginx upstream on UPSTREAM_PORT, and DEAD_PORT, where nothing listens (a stopped
# target: every connection to it is refused). nginx runs with its defaults (round robin,
# `max_fails=1 fail_timeout=10s`, `proxy_next_upstream error timeout`); keygate with its own
# (`retries` one per other target, `retry_on: [connect, reset]`, `max_fails: 1`,
# `fail_timeout: 10s`). Each gateway gets one worker and one wrk thread; the runs are
# interleaved, a different order each repetition, with a valid key. Prints a Markdown table
# of medians: requests/s, p50, p99, the requests answered other than 2xx/3xx and wrk's
# socket errors, each run's worst; then what a first request after the start answered.
# Everything listens on 127.0.0.1 and stops at the end.
#
# Environment: REPS (3), DURATION (10s), CONCS ("50 200"), KEYGATE_BIN (the binary, if not
# given as the argument; default target/release/keygate, built when missing), KG_PORT
# (8290; its admin listener on KG_PORT + 1000), NGINX_FAILOVER_PORT (9083), DEAD_PORT
# (9003), UPSTREAM_PORT (9001), KG_BENCH_DIR (work folder, as the other scripts).
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$ROOT/bench/peers/peers.sh
export KG_BENCH_DIR=${KG_BENCH_DIR:-${TMPDIR:-/tmp}/keygate-bench}
export REPS=${REPS:-3} DURATION=${DURATION:-10s} CONCS=${CONCS:-"50 200"}
KG_PORT=${KG_PORT:-8290} NGINX_FAILOVER_PORT=${NGINX_FAILOVER_PORT:-9083}
DEAD_PORT=${DEAD_PORT:-9003} UPSTREAM_PORT=${UPSTREAM_PORT:-9001}
KEYGATE_BIN=$(realpath -m "${1:-${KEYGATE_BIN:-$ROOT/target/release/keygate}}")
WORK=$KG_BENCH_DIR/failover

BENCH_NAME=failover
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
# status PORT KEY: the status of one request with KEY.
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "apikey: $2" "http://127.0.0.1:$1/"; }

prepare
for port in "$KG_PORT" "$NGINX_FAILOVER_PORT" "$DEAD_PORT"; do
  answers "$port" && die "port $port is taken; set KG_PORT, NGINX_FAILOVER_PORT or DEAD_PORT"
done
mkdir -p "$WORK/keygate"
valid=$(cat "$KG_BENCH_DIR/keys/valid_key")
targets=("127.0.0.1:$UPSTREAM_PORT" "127.0.0.1:$DEAD_PORT")

"$PEERS" gateway "$NGINX_FAILOVER_PORT" "$WORK/nginx" "${targets[@]}" || die "peers.sh gateway failed"
setsid nginx -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' \
  >"$WORK/nginx.log" 2>&1 </dev/null &
PIDS+=($!)

python3 "$ROOT/bench/gen_config.py" "$KG_BENCH_DIR/keys/keys-10k.txt" "$WORK/keygate/keygate.yaml" \
  "$KG_PORT" --store sqlite::memory: --admin-listen "127.0.0.1:$((KG_PORT + 1000))" \
  --upstream "http://${targets[0]}" --upstream "http://${targets[1]}" >/dev/null ||
  die "gen_config.py failed"
(cd "$WORK/keygate" && exec "$KEYGATE_BIN" serve --config keygate.yaml --workers 1 --access-log off) \
  >"$WORK/keygate.log" 2>&1 </dev/null &
PIDS+=($!)

# The first requests after the start, before either gateway has seen the dead target fail.
first=()
for name_port in "keygate=$KG_PORT" "nginx=$NGINX_FAILOVER_PORT"; do
  port=${name_port#*=}
  for _ in $(seq 300); do answers "$port" && break; sleep 0.1; done
  answers "$port" || die "${name_port%%=*} did not start (see $WORK)"
  codes=""
  for _ in 1 2 3 4; do codes+="$(status "$port" "$valid") "; done
  first+=("| ${name_port%%=*} | ${codes% } |")
done

rows=$WORK/rows
: >"$rows"
gateways=("keygate=$KG_PORT" "nginx=$NGINX_FAILOVER_PORT")
say "compare (REPS=$REPS DURATION=$DURATION CONCS=\"$CONCS\"), target 127.0.0.1:$DEAD_PORT stopped"
for rep in $(seq "$REPS"); do
  for conc in $CONCS; do
    for i in 0 1; do
      gateway=${gateways[$(((i + rep) % 2))]}
      result=$("$PEERS" run "${gateway#*=}" "$valid" "$conc") || die "wrk run failed"
      echo "${gateway%%=*} $conc $result" >>"$rows"
    done
  done
done

echo "One of two targets stopped (127.0.0.1:$DEAD_PORT refuses connections); valid key."
echo
python3 - "$rows" <<'PY'
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
for line in open(sys.argv[1]):
    name, conns, rps, p50, p99, refused, errors = line.split()
    runs[(name, int(conns))].append((float(rps), float(p50), float(p99), int(refused), int(errors)))

print("| gateway | conns | runs | rps median | p50 ms | p99 ms | non-2xx (worst run) | socket errors (worst run) | rps / nginx |")
print("|---|---|---|---|---|---|---|---|---|")
for (name, conns), values in sorted(runs.items(), key=lambda item: (item[0][1], item[0][0])):
    rps = statistics.median(v[0] for v in values)
    nginx = runs.get(("nginx", conns))
    ratio = rps / statistics.median(v[0] for v in nginx) if nginx else float("nan")
    print(f"| {name} | {conns} | {len(values)} | {rps:,.0f} | {statistics.median(v[1] for v in values):.2f} "
          f"| {statistics.median(v[2] for v in values):.2f} | {max(v[3] for v in values)} "
          f"| {max(v[4] for v in values)} | {ratio:.2f} |")
PY
echo
echo "The first four requests after the start (before any run):"
echo
echo "| gateway | statuses |"
echo "|---|---|"
printf '%s\n' "${first[@]}"
