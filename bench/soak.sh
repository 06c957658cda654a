#!/usr/bin/env bash
# Soak test: keygate under mixed traffic at about half its measured capacity for
# SOAK_MINUTES, with key changes and reloads, watching memory and file descriptors.
# See bench/README.md ("Soak test"). Everything runs on 127.0.0.1 and is bounded in time.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SOAK_MINUTES=${SOAK_MINUTES:-30}
SOAK_SHARE=${SOAK_SHARE:-0.5}          # share of the measured capacity to send
SOAK_WARMUP=${SOAK_WARMUP:-120}        # seconds before the growth is measured from
SOAK_INTERVAL=${SOAK_INTERVAL:-30}     # seconds between RSS / descriptor samples
SOAK_WORKERS=${SOAK_WORKERS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/keygate-soak.XXXXXX")
KEY=soak-valid-key-0123456789
TOKEN=soak-admin-token-0123456789
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

command -v wrk >/dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }
ulimit -n 8192 2>/dev/null || true
if [[ -z "${KEYGATE_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --release -p keygate)
  KEYGATE_BIN="$ROOT/target/release/keygate"
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
UPSTREAM_PORT=$(free_port)
PROXY_PORT=$(free_port)
ADMIN_PORT=$(free_port)

"$KEYGATE_BIN" echo --listen "127.0.0.1:$UPSTREAM_PORT" >"$WORK/echo.log" 2>&1 &
PIDS+=($!)

cat >"$WORK/keygate.yaml" <<EOF
proxy:
  listen: 127.0.0.1:$PROXY_PORT
  header_timeout: 10s
admin:
  listen: 127.0.0.1:$ADMIN_PORT
  token: $TOKEN
store: sqlite://$WORK/keygate.db
services:
  - name: soak
    path_prefix: /soak
    upstream: http://127.0.0.1:$UPSTREAM_PORT
    routes:
      - name: all
        paths: ["/*"]
        methods: [GET, POST]
consumers:
  - name: soak
    client_type: A
    keys: [{key: $KEY}]
  - name: churn
    client_type: B
EOF
"$KEYGATE_BIN" serve --config "$WORK/keygate.yaml" --workers "$SOAK_WORKERS" \
  --access-log off >"$WORK/keygate.out" 2>"$WORK/keygate.log" &
KEYGATE_PID=$!
PIDS+=("$KEYGATE_PID")

ready=0
for _ in $(seq 1 300); do
  if curl -s -o /dev/null -m 2 -H "apikey: $KEY" "http://127.0.0.1:$PROXY_PORT/soak/ready"; then
    ready=1
    break
  fi
  sleep 0.1
done
[[ $ready == 1 ]] || { echo "keygate did not start:" >&2; cat "$WORK/keygate.log" >&2; exit 1; }

# Capacity: valid keys, 50 connections, 5 s.
capacity=$(timeout 30 wrk -t2 -c50 -d5s -H "apikey: $KEY" "http://127.0.0.1:$PROXY_PORT/soak/capacity" |
  awk '/^Requests\/sec/ { printf "%d", $2 }')
[[ -n "$capacity" && "$capacity" -gt 0 ]] || { echo "could not measure capacity" >&2; exit 1; }
target=$(python3 -c "print(int($capacity * $SOAK_SHARE))")
echo "capacity: $capacity requests/s (valid key, 50 connections); soak target: $target requests/s"
echo "soak: $SOAK_MINUTES minutes, keygate pid $KEYGATE_PID, $SOAK_WORKERS workers, work folder $WORK"

seconds=$(python3 -c "print(int($SOAK_MINUTES * 60))")
# Shares of the target: valid 40%, invalid 20%, missing 20%, pipelined 20% (batches of
# 4 requests). Each connection waits about 20 ms after each answer, so that the
# answer's own latency changes the rate little.
run_class() { # class share requests-per-batch
  local class=$1 share=$2 batch=$3
  local rate conns pause
  rate=$(python3 -c "print(max(1.0, $target * $share / $batch))")
  conns=$(python3 -c "print(max(1, round($rate * 0.02)))")
  pause=$(python3 -c "print(max(1, round($conns * 1000 / $rate)))")
  echo "  $class: $conns connections, ${pause} ms between answers (~$(python3 -c "print(int($rate * $batch))") requests/s)"
  # A little longer than the client, so that its last sample is taken under load.
  timeout $((seconds + 80)) wrk -t1 -c"$conns" -d"$((seconds + 15))s" --timeout 10s -s "$ROOT/bench/soak.lua" \
    "http://127.0.0.1:$PROXY_PORT" -- "$class" "$pause" "$KEY" >"$WORK/wrk-$class.out" 2>&1 &
  PIDS+=($!)
}
WRK_START=${#PIDS[@]}
run_class valid 0.4 1
run_class invalid 0.2 1
run_class missing 0.2 1
run_class pipelined 0.2 4
WRK_PIDS=("${PIDS[@]:$WRK_START}")

timeout $((seconds + 120)) python3 "$ROOT/bench/soak_client.py" --proxy "$PROXY_PORT" \
  --admin "$ADMIN_PORT" --token "$TOKEN" --pid "$KEYGATE_PID" --config "$WORK/keygate.yaml" \
  --key "$KEY" --seconds "$seconds" --warmup "$SOAK_WARMUP" --interval "$SOAK_INTERVAL" |
  tee "$WORK/client.out"
for pid in "${WRK_PIDS[@]}"; do
  wait "$pid" || true
done

echo
echo "== paced traffic (wrk) =="
unexpected=0
for class in valid invalid missing pipelined; do
  grep -h '^Requests/sec' "$WORK/wrk-$class.out" | sed "s/^/$class: /" || true
  while read -r _ cls code count; do
    case "$cls:$code" in
      valid:200 | invalid:401 | missing:401 | pipelined:200 | pipelined:401) ok=expected ;;
      *) ok=UNEXPECTED; unexpected=$((unexpected + count)) ;;
    esac
    echo "  $cls $code x$count ($ok)"
  done < <(grep -h '^status ' "$WORK/wrk-$class.out" || true)
  grep -h '^errors ' "$WORK/wrk-$class.out" | sed 's/^errors /  socket errors: /' || true
done
reloaded=$(grep -c 'configuration reloaded' "$WORK/keygate.log" || true)
refused=$(grep -c 'configuration not reloaded' "$WORK/keygate.log" || true)
errors=$(grep -c ' ERROR ' "$WORK/keygate.log" || true)
warnings=$(grep -c ' WARN ' "$WORK/keygate.log" || true)
total=$(cat "$WORK"/wrk-*.out | awk '/^Requests\/sec/ { sum += $2 } END { printf "%d", sum }')
echo "paced traffic achieved: $total requests/s in all (target $target)"
echo "reloads: $reloaded done, $refused refused; keygate log: $errors error and $warnings warning lines"
grep -h ' ERROR \| WARN ' "$WORK/keygate.log" | head -n 5 || true
client_unexpected=$(tail -n 1 "$WORK/client.out" | python3 -c 'import json, sys; r = json.load(sys.stdin); print(sum(sum(v.values()) for v in r["unexpected"].values()) + r["bad_bodies"])')
echo "unexpected answers: wrk $unexpected, slow/admin $client_unexpected"
if kill -0 "$KEYGATE_PID" 2>/dev/null; then
  echo "keygate still running"
else
  echo "keygate EXITED during the soak" >&2
  exit 1
fi
[[ $unexpected == 0 && $client_unexpected == 0 ]]
