#!/usr/bin/env bash
# Start-up of a keygate node from PostgreSQL with many keys: time from `keygate serve` to
# `/readyz` 200, and resident memory once ready.
#
#   KEYGATE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test bench/cluster_startup.sh
#
# KEYS (default 1000000) keys over CONSUMERS (default 1000) consumers are written with SQL
# into a schema of their own (`kg_bench_startup_<pid>`), which is dropped at the end.
# RUNS (default 3) starts are timed. Needs psql, curl and a release build
# (`cargo build --release -p keygate`; KEYGATE_BIN overrides the binary). Everything runs
# on loopback; every wait is bounded.
set -euo pipefail

: "${KEYGATE_TEST_DATABASE_URL:?set KEYGATE_TEST_DATABASE_URL to a PostgreSQL database}"
KEYS=${KEYS:-1000000}
CONSUMERS=${CONSUMERS:-1000}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${KEYGATE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/keygate}
DB=$KEYGATE_TEST_DATABASE_URL
SCHEMA=kg_bench_startup_$$
WORK=$(mktemp -d)
PID=

cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    psql "$DB" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$BIN" ] || { echo "no keygate binary at $BIN: cargo build --release -p keygate" >&2; exit 1; }
sep='?'; case "$DB" in *\?*) sep='&';; esac
STORE="$DB${sep}options=-c%20search_path%3D$SCHEMA"
psql "$DB" -qc "CREATE SCHEMA $SCHEMA"
cat >"$WORK/keygate.yaml" <<YAML
proxy:
  listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
  token: bench-admin-token-0123456789
store: "$STORE"
YAML

# Starts keygate; sets PID and ADMIN (the admin address).
start() {
    "$BIN" serve --config "$WORK/keygate.yaml" --access-log off --workers 2 2>"$WORK/stderr" &
    PID=$!
    ADMIN=
    for _ in $(seq 1 500); do
        ADMIN=$(grep -o 'admin listening on [0-9.:]*' "$WORK/stderr" | awk '{print $4}' || true)
        [ -n "$ADMIN" ] && return 0
        sleep 0.01
    done
    echo "keygate did not start:" >&2; cat "$WORK/stderr" >&2; exit 1
}

# Waits (at most 120 s) for /readyz 200.
wait_ready() {
    for _ in $(seq 1 12000); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADMIN/readyz")" = 200 ] && return 0
        sleep 0.01
    done
    echo "keygate never became ready:" >&2; cat "$WORK/stderr" >&2; exit 1
}

stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

# A first start creates the tables.
start; wait_ready; stop

echo "writing $KEYS keys over $CONSUMERS consumers with SQL…"
psql "$DB" -q -v ON_ERROR_STOP=1 <<SQL
SET search_path = $SCHEMA;
INSERT INTO consumers (name, client_type, groups, permissions, description, metadata, origin, created_at, updated_at)
SELECT 'consumer-' || lpad(c::text, 4, '0'), 'A', '["readers"]', '[]', NULL, '{}', 'api', 0, 0
FROM generate_series(0, $CONSUMERS - 1) AS c;
INSERT INTO keys (id, consumer, hash, prefix, active, description, labels, origin, created_at, expires_at, revoked_at, last_used_at)
SELECT 'key-' || lpad(n::text, 7, '0'), 'consumer-' || lpad((n % $CONSUMERS)::text, 4, '0'),
       sha256(('bench-key-' || n)::bytea), 'bench', true, NULL, '{"env":"prod"}', 'api', 0, NULL, NULL, NULL
FROM generate_series(0, $KEYS - 1) AS n;
UPDATE meta SET revision = revision + 1;
ANALYZE;
SQL
psql "$DB" -Atc "SELECT 'keys table with indexes: ' || pg_size_pretty(pg_total_relation_size('$SCHEMA.keys'))"

for run in $(seq 1 "$RUNS"); do
    began=$(date +%s%N)
    start
    wait_ready
    ready=$(date +%s%N)
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
    keys=$(curl -s "http://$ADMIN/readyz" | grep -o '"keys":[0-9]*' | cut -d: -f2)
    printf 'run %d: ready in %d ms, %s keys, resident %d MB\n' "$run" $(( (ready - began) / 1000000 )) "$keys" $(( rss / 1024 ))
    verified=$(curl -s -X POST -H 'X-API-KEY: bench-admin-token-0123456789' -H 'Content-Type: application/json' \
        -d '{"key":"bench-key-4242"}' "http://$ADMIN/v1/verify" | grep -o '"valid":[a-z]*')
    echo "  a seeded key through /v1/verify: $verified"
    stop
done
