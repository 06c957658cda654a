#!/usr/bin/env bash
# keygate binaries side by side, in one run: what a change costs on the request path.
#
#   bench/ab.sh BEFORE_BINARY AFTER_BINARY [THIRD_BINARY]
#   REPS=5 DURATION=5s CONCS="50 200" bench/ab.sh old/keygate new/keygate
#
# Starts the peers (bench/peers/peers.sh: the upstream, nginx, HAProxy), then each binary
# on the same 10k-key configuration (bench/gen_config.py, `sqlite::memory:` store, one
# worker, no access log), and runs `peers.sh compare before=PORT after=PORT [third=PORT]`:
# wrk runs of the binaries, nginx and HAProxy interleaved, a different order each
# repetition, with a valid, an unknown and a type-C key. Prints the table of medians;
# "after / before" is the ratio of two rows. Everything listens on 127.0.0.1 and stops at
# the end.
#
# Environment: REPS (5), DURATION (5s), CONCS ("50 200"), KG_AB_PORTS ("8190 8191 8192";
# admin listeners on each plus 1000), KG_BENCH_DIR (work folder, as the other scripts).
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$ROOT/bench/peers/peers.sh
export KG_BENCH_DIR=${KG_BENCH_DIR:-${TMPDIR:-/tmp}/keygate-bench}
export REPS=${REPS:-5} DURATION=${DURATION:-5s} CONCS=${CONCS:-"50 200"}
read -r -a PORTS <<<"${KG_AB_PORTS:-8190 8191 8192}"
UPSTREAM_PORT=${UPSTREAM_PORT:-9001}
WORK=$KG_BENCH_DIR/ab

say() { printf '[ab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ $# -eq 2 ] || [ $# -eq 3 ] || { sed -n 2,17p "$0"; exit 2; }
NAMES=(before after third)
BINARIES=()
for arg in "$@"; do
  [ -x "$arg" ] || die "$arg must exist and be executable"
  BINARIES+=("$(realpath "$arg")")
done

PIDS=() STARTED_PEERS=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  [ "$STARTED_PEERS" = 1 ] && "$PEERS" stop >/dev/null 2>&1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/")" != 000 ]; }

"$PEERS" setup >/dev/null || die "peers.sh setup failed"
if ! answers "$UPSTREAM_PORT"; then
  "$PEERS" start >/dev/null || die "peers.sh start failed"
  STARTED_PEERS=1
fi
mkdir -p "$WORK"
valid=$(cat "$KG_BENCH_DIR/keys/valid_key")
TARGETS=()
for i in "${!BINARIES[@]}"; do
  side=${NAMES[$i]} bin=${BINARIES[$i]} port=${PORTS[$i]}
  TARGETS+=("$side=$port")
  answers "$port" && die "port $port is taken; set KG_AB_PORTS"
  mkdir -p "$WORK/$side"
  python3 "$ROOT/bench/gen_config.py" "$KG_BENCH_DIR/keys/keys-10k.txt" "$WORK/$side/keygate.yaml" \
    "$port" --store sqlite::memory: --admin-listen "127.0.0.1:$((port + 1000))" \
    --upstream "http://127.0.0.1:$UPSTREAM_PORT" >/dev/null || die "gen_config.py failed"
  (cd "$WORK/$side" && exec "$bin" serve --config keygate.yaml --workers 1 --access-log off) \
    >"$WORK/$side/serve.log" 2>&1 </dev/null &
  PIDS+=($!)
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -H "apikey: $valid" \
      "http://127.0.0.1:$port/")" = 200 ] && break
    sleep 0.1
  done
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "apikey: $valid" "http://127.0.0.1:$port/")" = 200 ] ||
    die "$side did not answer 200 (see $WORK/$side/serve.log)"
  say "$side: $bin on 127.0.0.1:$port"
done
say "compare (REPS=$REPS DURATION=$DURATION CONCS=\"$CONCS\")"
"$PEERS" compare "${TARGETS[@]}" || die "peers.sh compare failed"
