#!/usr/bin/env bash
# Key creations per second through the admin API, on the embedded SQLite store.
#
#   bench/admin_writes.sh
#   DURATION=3s CONCS="1 16" bench/admin_writes.sh
#
# Builds the release binary, starts `keygate serve` with a configuration of its own on a
# fresh SQLite file in a temporary folder (admin API and proxy on 127.0.0.1 only),
# creates one consumer, then runs wrk at each connection count: every request is
# `POST /v1/consumers/bench/keys` with the body `{}`, so keygate generates the key,
# commits it durably and makes it live before answering 201. Prints one table row per
# connection count, checks that the store holds one key per 201, and stops keygate (also
# on failure or Ctrl-C). wrk comes from bench/peers/peers.sh setup when missing.
# See bench/README.md.
#
# Environment (defaults in brackets):
#   DURATION [5s]             length of each wrk run
#   CONCS ["1 4 16 64"]       connection counts, one run each
#   KG_ADMIN_PORT [19180]     keygate's admin port
#   KG_PORT [19080]           keygate's proxy port (unused by the load, but bound)
#   KG_WRITES_DIR [a new folder under ${TMPDIR:-/tmp}]  where the store and logs go;
#                             removed at the end unless given
#   KG_BIN [unset]            a keygate binary to measure instead of building one (to
#                             compare two builds)
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$ROOT/bench/peers/peers.sh
DURATION=${DURATION:-5s} CONCS=${CONCS:-"1 4 16 64"}
KG_ADMIN_PORT=${KG_ADMIN_PORT:-19180} KG_PORT=${KG_PORT:-19080}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
KG=${KG_BIN:-$CARGO_TARGET_DIR/release/keygate}
START_TIMEOUT=30

say() { printf '[admin-writes %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

[[ $DURATION =~ ^[0-9]+s$ ]] || die "DURATION must be whole seconds, such as 5s"
[ "${DURATION%s}" -ge 1 ] && [ "${DURATION%s}" -le 60 ] || die "DURATION must be 1s to 60s"
for c in $CONCS; do
  [[ $c =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] && [ "$c" -le 256 ] || die "CONCS: 1 to 256 each, found $c"
done

# ---------------------------------------------------------------- clean-up (always)
KEEP_DIR=1
if [ -z "${KG_WRITES_DIR:-}" ]; then
  KG_WRITES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/keygate-admin-writes.XXXXXX") || die "mktemp failed"
  KEEP_DIR=0
fi
mkdir -p "$KG_WRITES_DIR" || die "cannot create $KG_WRITES_DIR"
KG_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$KG_PID" ] && kill -0 "$KG_PID" 2>/dev/null; then
    kill -TERM "$KG_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$KG_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$KG_PID" 2>/dev/null && kill -KILL "$KG_PID" 2>/dev/null
  fi
  [ "$KEEP_DIR" = 0 ] && rm -rf "$KG_WRITES_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build, wrk
if [ -z "${KG_BIN:-}" ]; then
  say "building the release binary"
  (cd "$ROOT" && cargo build --release -p keygate) || die "cargo build failed"
fi
[ -x "$KG" ] || die "no keygate binary at $KG"
if ! command -v wrk >/dev/null; then
  [ -x "$PEERS" ] || die "wrk is missing and bench/peers/peers.sh is not there to install it"
  say "wrk is missing: bench/peers/peers.sh setup"
  "$PEERS" setup || die "peers.sh setup failed"
fi

# ---------------------------------------------------------------- keygate
for p in "$KG_ADMIN_PORT" "$KG_PORT"; do
  (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null && die "port $p is in use; set KG_ADMIN_PORT / KG_PORT"
done
TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
CFG=$KG_WRITES_DIR/keygate.yaml
cat >"$CFG" <<EOF
# Written by bench/admin_writes.sh.
store: "sqlite://$KG_WRITES_DIR/keygate.db"
admin:
  listen: 127.0.0.1:$KG_ADMIN_PORT
  token: "$TOKEN"
proxy:
  listen: 127.0.0.1:$KG_PORT
EOF
ADMIN=http://127.0.0.1:$KG_ADMIN_PORT
api() { # method path [body] -> HTTP status
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X "$1" -H "X-API-KEY: $TOKEN" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} "$ADMIN$2" || true
}

say "starting keygate (store: a new SQLite file in $KG_WRITES_DIR)"
"$KG" serve --config "$CFG" --access-log off >"$KG_WRITES_DIR/serve.log" 2>&1 </dev/null &
KG_PID=$!
deadline=$(( $(date +%s) + START_TIMEOUT ))
# Ready once the state is loaded: /readyz answers 200.
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$ADMIN/readyz")" = 200 ]; do
  kill -0 "$KG_PID" 2>/dev/null || die "keygate exited: $(tail -n 3 "$KG_WRITES_DIR/serve.log")"
  [ "$(date +%s)" -lt "$deadline" ] || die "keygate did not answer within ${START_TIMEOUT}s"
  sleep 0.05
done
status=$(api PUT /v1/consumers/bench '{}')
[ "$status" = 201 ] || die "creating the consumer answered $status"
status=$(api POST /v1/consumers/bench/keys '{}')
[ "$status" = 201 ] || die "creating a first key answered $status"

# ---------------------------------------------------------------- load
LUA=$KG_WRITES_DIR/create_key.lua
cat >"$LUA" <<EOF
-- POST /v1/consumers/bench/keys with {}: keygate generates each key.
wrk.method = "POST"
wrk.path = "/v1/consumers/bench/keys"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-KEY"] = "$TOKEN"
EOF

ms() { # wrk latency ("420.00us", "1.37ms", "1.02s") -> milliseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

ROWS=() CREATED=1 INFLIGHT=0
say "wrk: DURATION=$DURATION CONCS=\"$CONCS\""
for c in $CONCS; do
  threads=$(( c < 2 ? c : 2 ))
  out=$(timeout $(( ${DURATION%s} + 30 )) wrk -t"$threads" -c"$c" -d"$DURATION" --latency \
          -s "$LUA" "$ADMIN") || die "wrk failed at $c connections"
  total=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
  mean=$(awk '$1 == "Latency" { print $2; exit }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
  errors=$(awk '/Socket errors:/ { print }' <<<"$out")
  CREATED=$(( CREATED + total - ${bad:-0} )) INFLIGHT=$(( INFLIGHT + c ))
  ROWS+=("| $c | $rps | $(ms "$mean") ms | $(ms "$p50") ms | $(ms "$p99") ms | ${bad:-0}${errors:+ ($errors)} |")
  say "$c connections: $rps/s, mean $mean, p99 $p99, non-2xx ${bad:-0}"
done

# Every 201 must be a stored key: count the keys through the API. wrk does not count the
# requests still open when a run ends, which keygate may complete: up to one per connection.
stored=0 after=""
for _ in $(seq 100000); do
  page=$(curl -s --max-time 10 -H "X-API-KEY: $TOKEN" \
    "$ADMIN/v1/keys?limit=1000${after:+&after=$after}") || die "listing the keys failed"
  n=$(grep -o '"id":"[^"]*"' <<<"$page" | wc -l)
  stored=$(( stored + n ))
  after=$(grep -o '"next":"[^"]*"' <<<"$page" | sed 's/"next":"\(.*\)"/\1/')
  [ -n "$after" ] || break
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "Key creations through the admin API, SQLite file store (synchronous=FULL),"
echo "$(nproc) cores (${cpu:-unknown CPU}); wrk and keygate share them; $DURATION per run."
echo
echo "| connections | key creations/s | mean latency | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "Keys answered 201 (counted by wrk): $CREATED; keys stored: $stored."
[ "$stored" -ge "$CREATED" ] && [ "$stored" -le $(( CREATED + INFLIGHT )) ] ||
  die "the store does not hold one key per 201 answer"
