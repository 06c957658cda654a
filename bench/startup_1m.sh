#!/usr/bin/env bash
# Start-up of keygate from a SQLite store holding the benchmark's 1M keys: time from
# launching `keygate serve --workers 1 --access-log off` to `/readyz` 200, and resident
# memory (`VmRSS`) once ready.
#
#   bench/startup_1m.sh                  # 1M consumers, one per key (the key set's shape)
#   CONSUMERS=1000 bench/startup_1m.sh   # the same 1M keys spread over 1000 consumers
#   LABELS=1 bench/startup_1m.sh         # every key with the label env=prod
#   LIMITS=1 bench/startup_1m.sh         # every key with a rate limit of its own (100/minute)
#   COLD=1 bench/startup_1m.sh           # every start reads the whole store (no cache)
#
# The key set is the peers' `keys-1m.txt` (`<key> <consumer> <client_type>` per line;
# `bench/peers/peers.sh setup` writes it). Its consumers and keys are written once
# into a SQLite file by bench/import_keys.py (Python's sqlite3 module; rows as the store
# writes them, origin `api`, one revision for the whole import), after a first start of
# keygate has created the schema; the file is kept in the work folder and reused while
# the key set and the shape are unchanged. Then RUNS (default 3) starts are timed; each
# checks one key of the set through `/v1/verify`. A start reads the directory cache
# beside the database (`store-*.db.cache`) when a previous start left one; the table
# says which starts did. The import writes no change log, so a cache older than the
# import is never used. Everything listens on 127.0.0.1 on ports the system picks;
# every wait is bounded; keygate is stopped by its process id, also on failure.
#
# Environment (defaults in brackets):
#   RUNS [3]                                  timed starts
#   CONSUMERS [0]                             0: one consumer per key, as in the key set;
#                                             N: the keys spread over N consumers
#   LABELS [0]                                1: every key has the label `env: prod`
#   LIMITS [0]                                1: every key has its own rate limit,
#                                             `{"limits":[{"count":100,"per":"minute"}]}`
#                                             (never called here: what a limit costs
#                                             before its first call)
#   COLD [0]                                  1: delete the directory cache before each start
#   KG_BENCH_DIR [${TMPDIR:-/tmp}/keygate-bench]  work folder (keys/, startup-1m/)
#   KEYGATE_BIN [$CARGO_TARGET_DIR/release/keygate]  the binary; built when missing
#   START_TIMEOUT [120]                       seconds a start may take
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
CONSUMERS=${CONSUMERS:-0}
LABELS=${LABELS:-0}
LIMITS=${LIMITS:-0}
COLD=${COLD:-0}
START_TIMEOUT=${START_TIMEOUT:-120}
KG_BENCH_DIR=${KG_BENCH_DIR:-${TMPDIR:-/tmp}/keygate-bench}
KEYS_FILE=$KG_BENCH_DIR/keys/keys-1m.txt
WORK=$KG_BENCH_DIR/startup-1m
BIN=${KEYGATE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/keygate}
TOKEN=bench-admin-token-0123456789
PID=

say() { printf '[startup-1m %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

[ -s "$KEYS_FILE" ] || { say "no key set at $KEYS_FILE: run bench/peers/peers.sh setup"; exit 1; }
if [ ! -x "$BIN" ]; then
    say "building the release binary"
    (cd "$ROOT" && cargo build --release -p keygate)
fi
mkdir -p "$WORK"
SHAPE=$([ "$CONSUMERS" = 0 ] && echo per-key || echo "$CONSUMERS")
[ "$LABELS" = 1 ] && SHAPE=$SHAPE-labels
[ "$LIMITS" = 1 ] && SHAPE=$SHAPE-limits
DB=$WORK/store-$SHAPE.db
CONFIG=$WORK/keygate-$SHAPE.yaml
cat >"$CONFIG" <<YAML
# keygate start-up benchmark: a small file; the keys are in the store.
store: "sqlite://$DB"
proxy:
  listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
  token: $TOKEN
services:
  - name: bench
    upstream: http://127.0.0.1:9001
    key_sources:
      - header: apikey
    routes:
      - name: all
        paths: ["/*", "/"]
        allow: "clientType === 'A' || clientType === 'B'"
YAML

# Starts keygate; sets PID and ADMIN (the admin address from its log).
start() {
    "$BIN" serve --config "$CONFIG" --workers 1 --access-log off 2>"$WORK/stderr" &
    PID=$!
    ADMIN=
    for _ in $(seq 1 1000); do
        ADMIN=$(grep -o 'admin listening on [0-9.:]*' "$WORK/stderr" | awk '{print $4}' || true)
        [ -n "$ADMIN" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.005
    done
    say "keygate did not start:"; cat "$WORK/stderr" >&2; exit 1
}

# Waits (at most START_TIMEOUT seconds) for /readyz 200, polling about every 5 ms.
wait_ready() {
    local deadline=$(( $(date +%s) + START_TIMEOUT ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        [ "$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' "http://$ADMIN/readyz")" = 200 ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.005
    done
    say "keygate never became ready:"; cat "$WORK/stderr" >&2; exit 1
}

stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

# The import is redone when the key set is newer than the store file.
if [ ! -s "$DB" ] || [ "$KEYS_FILE" -nt "$DB" ]; then
    rm -f "$DB" "$DB-wal" "$DB-shm"
    say "creating the schema (one start of keygate)"
    start; wait_ready; stop
    say "importing $KEYS_FILE into $DB (consumers: $SHAPE)"
    began=$(date +%s)
    python3 "$ROOT/bench/import_keys.py" "$KEYS_FILE" "$DB" "$CONSUMERS" "$LABELS" "$LIMITS"
    say "imported in $(( $(date +%s) - began )) s; store file $(( $(stat -c %s "$DB") / 1048576 )) MB"
fi

probe=$(awk 'NR == 424242 {print $1; exit}' "$KEYS_FILE")
printf '\n| run | consumers | read from | ready after | state loaded (log) | resident memory | key verified |\n'
printf '|---|---|---|---|---|---|---|\n'
for run in $(seq 1 "$RUNS"); do
    [ "$COLD" = 1 ] && rm -f "$DB.cache"
    began=$(date +%s%N)
    start
    wait_ready
    ready=$(date +%s%N)
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
    loaded=$(grep -o 'elapsed_ms=[0-9]*' "$WORK/stderr" | head -1 | cut -d= -f2 || true)
    source=$(grep -q 'from_cache=true' "$WORK/stderr" && echo cache || echo store)
    verified=$(curl -s --max-time 5 -X POST -H "X-API-KEY: $TOKEN" -H 'Content-Type: application/json' \
        -d "{\"key\":\"$probe\"}" "http://$ADMIN/v1/verify" | grep -o '"valid":[a-z]*' | cut -d: -f2 || true)
    printf '| %d | %s | %s | %d ms | %s ms | %d MB | %s |\n' "$run" "$SHAPE" "$source" \
        $(( (ready - began) / 1000000 )) "${loaded:-?}" $(( rss / 1024 )) "${verified:-?}"
    # Lets a cache being written after a start from the store finish (bounded).
    for _ in $(seq 1 200); do
        grep -q 'from_cache=true' "$WORK/stderr" && break
        grep -q 'directory cache written\|could not write the directory cache' "$WORK/stderr" && break
        sleep 0.05
    done
    stop
done
