#!/usr/bin/env bash
# keygate's and nginx's user-space instructions per request, counted rather than timed.
#
#   bench/instructions.sh
#
# Requests per second move with whatever else the machine is doing; the number of
# instructions a gateway executes for one request does not. This script runs keygate, then
# nginx, under valgrind's callgrind (installed with apt when missing), sends WARMUP
# requests, zeroes the counters, sends N requests over 10 keep-alive connections
# (bench/keepalive_client.py, one request at a time), dumps the counters and divides —
# for a valid key, an unknown key (401) and a key of client type C (403). It prints a
# table and writes it to bench/out/INSTRUCTIONS-<date>.md. All threads of the gateway are
# counted; the kernel's work (system calls, the loopback) is not.
#
# keygate runs bench/gen_config.py's 10k-key configuration with one worker and no access
# log; nginx a copy of the peers' 10k-key configuration (bench/peers/peers.sh) with
# `master_process off`. Both proxy to the peers' upstream, which is started when it is not
# running (and then stopped again). callgrind does not offer the CPU's SHA extensions, so
# keygate's SHA-256 runs the portable code of the sha2 crate under it; the table shows that
# share on its own.
#
# Environment (defaults in brackets):
#   N [3000], WARMUP [500]             requests counted, requests before counting
#   KEYGATE_BIN [unset]                a keygate binary; otherwise cargo build --release
#   KG_COUNT_PORT [8095]               keygate's proxy port (admin: KG_COUNT_PORT + 1000)
#   NGINX_COUNT_PORT [9096]            nginx's port
#   TOP [0]                            also list each gateway's TOP functions by own count
#   KG_CONFIG_ARGS [unset]             more bench/gen_config.py options for keygate's
#                                      configuration, such as "--limits" (bench/limits.sh)
#   PROTOCOL [http1]                   h2c: HTTP/2 with prior knowledge on both gateways,
#                                      h2load sending N requests over 10 connections with
#                                      10 streams each (Debian's nghttp2-client)
#   KG_ACCESS_LOG [off]                where keygate writes its access log while counted
#                                      (a file: the log's cost is then counted too)
#   GATEWAYS ["keygate nginx"]         which gateways to count ("keygate" alone skips nginx)
#   KG_BENCH_DIR [${TMPDIR:-/tmp}/keygate-bench]  work folder (keys, configurations)
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$ROOT/bench/peers/peers.sh
export KG_BENCH_DIR=${KG_BENCH_DIR:-${TMPDIR:-/tmp}/keygate-bench}
N=${N:-3000} WARMUP=${WARMUP:-500} TOP=${TOP:-0}
KG_ACCESS_LOG=${KG_ACCESS_LOG:-off} GATEWAYS=${GATEWAYS:-keygate nginx}
KG_COUNT_PORT=${KG_COUNT_PORT:-8095} NGINX_COUNT_PORT=${NGINX_COUNT_PORT:-9096}
UPSTREAM_PORT=${UPSTREAM_PORT:-9001}
KEYS=$KG_BENCH_DIR/keys WORK=$KG_BENCH_DIR/instructions
CLIENT=$ROOT/bench/keepalive_client.py
OUT=$ROOT/bench/out/INSTRUCTIONS-$(date +%Y-%m-%d-%H%M%S).md

say() { printf '[instructions %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

GATEWAY_PID="" STARTED_PEERS=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$GATEWAY_PID" ] && kill "$GATEWAY_PID" 2>/dev/null && wait "$GATEWAY_PID" 2>/dev/null
  [ "$STARTED_PEERS" = 1 ] && "$PEERS" stop >/dev/null 2>&1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

answers() { # port [curl option] -> 0 when something answers HTTP there
  [ "$(curl -s ${2:-} -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/")" != 000 ]
}
# The gateways are asked in the protocol they are counted in.
GATEWAY_CURL=""
[ "${PROTOCOL:-http1}" = h2c ] && GATEWAY_CURL=--http2-prior-knowledge

# ---------------------------------------------------------------- tools, keys, upstream
command -v valgrind >/dev/null || {
  say "installing valgrind"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
} || die "valgrind is needed"
"$PEERS" setup >/dev/null || die "peers.sh setup failed"
if ! answers "$UPSTREAM_PORT"; then
  "$PEERS" start >/dev/null || die "peers.sh start failed"
  STARTED_PEERS=1
fi
for port in "$KG_COUNT_PORT" "$NGINX_COUNT_PORT" $((KG_COUNT_PORT + 1000)); do
  answers "$port" && die "port $port is taken"
done
if [ -z "${KEYGATE_BIN:-}" ]; then
  say "building keygate (release)"
  (cd "$ROOT" && cargo build --release -p keygate >/dev/null 2>&1) || die "build failed"
  KEYGATE_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/keygate
fi
mkdir -p "$WORK" "$ROOT/bench/out"
python3 "$ROOT/bench/gen_config.py" "$KEYS/keys-10k.txt" "$WORK/keygate.yaml" "$KG_COUNT_PORT" \
  --store sqlite::memory: --admin-listen "127.0.0.1:$((KG_COUNT_PORT + 1000))" \
  --upstream "http://127.0.0.1:$UPSTREAM_PORT" ${KG_CONFIG_ARGS:-} \
  $([ "${PROTOCOL:-http1}" = h2c ] && echo --h2c) >/dev/null \
  || die "gen_config.py failed"
mkdir -p "$WORK/nginx/logs"
listen_options=""
[ "${PROTOCOL:-http1}" = h2c ] && listen_options=" http2"
sed "s/listen 127.0.0.1:[0-9]*/listen 127.0.0.1:$NGINX_COUNT_PORT$listen_options/" \
  "$KG_BENCH_DIR/run/nginx/nginx.conf" >"$WORK/nginx/nginx.conf"
case ${PROTOCOL:-http1} in
  http1) ;;
  h2c) command -v h2load >/dev/null 2>&1 || die "PROTOCOL=h2c needs h2load (apt: nghttp2-client)" ;;
  *) die "PROTOCOL is http1 or h2c" ;;
esac

# send PORT KEY COUNT: COUNT requests with KEY; prints their statuses as JSON.
send() {
  if [ "${PROTOCOL:-http1}" = http1 ]; then
    python3 "$CLIENT" "$@"
    return
  fi
  h2load -n "$3" -c 10 -m 10 -t 1 -H "apikey: $2" "http://127.0.0.1:$1/" 2>&1 | python3 -c '
import json, re, sys
codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", sys.stdin.read())
if not codes:
    sys.exit("h2load: no status codes")
print(json.dumps({k: int(v) for k, v in zip(["2xx", "3xx", "4xx", "5xx"], codes.groups()) if int(v)}))'
}

# ---------------------------------------------------------------- counting
# Starts "$@" under callgrind, counts N requests with KEY on PORT; prints the dump's path.
count() { # name port key command...
  local name=$1 port=$2 key=$3 dump; shift 3
  rm -f "$WORK/$name.out"*
  valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.out" --compress-strings=no \
    --compress-pos=no "$@" >"$WORK/$name.log" 2>&1 &
  GATEWAY_PID=$!
  for _ in $(seq 600); do answers "$port" "$GATEWAY_CURL" && break; sleep 0.2; done
  answers "$port" "$GATEWAY_CURL" || die "$name did not start under callgrind (see $WORK/$name.log)"
  send "$port" "$key" "$WARMUP" >/dev/null || die "$name: warm-up failed"
  callgrind_control -z "$GATEWAY_PID" >/dev/null 2>&1
  send "$port" "$key" "$N" >"$WORK/$name.statuses" || die "$name: requests failed"
  callgrind_control -d "$GATEWAY_PID" >/dev/null 2>&1
  kill "$GATEWAY_PID"; wait "$GATEWAY_PID" 2>/dev/null; GATEWAY_PID=""
  dump=$(ls -t "$WORK/$name.out".* 2>/dev/null | head -1)
  [ -n "$dump" ] || die "$name: no counts were dumped"
  echo "$dump"
}

# Own instructions per function in a dump (costs after a `calls=` line belong to the callee).
per_function() { # dump
  awk '/^fn=/ { fn = substr($0, 4); call = 0; next }
       /^calls=/ { call = 1; next }
       /^[0-9+*-]/ { if (call) { call = 0 } else { own[fn] += $2 } }
       END { for (f in own) printf "%d\t%s\n", own[f], f }' "$1" | sort -rn
}

declare -A TOTAL SHA STATUSES
for path in valid unknown typec; do
  case $path in valid) keyfile=valid_key ;; unknown) keyfile=invalid_key ;; typec) keyfile=typec_key ;; esac
  key=$(cat "$KEYS/$keyfile")
  for gateway in $GATEWAYS; do
    say "$gateway, $path key: $N requests under callgrind"
    if [ "$gateway" = keygate ]; then
      dump=$(count "keygate-$path" "$KG_COUNT_PORT" "$key" "$KEYGATE_BIN" serve \
        --config "$WORK/keygate.yaml" --workers 1 --access-log "$KG_ACCESS_LOG") || exit 1
    else
      dump=$(count "nginx-$path" "$NGINX_COUNT_PORT" "$key" nginx -p "$WORK/nginx/" \
        -c "$WORK/nginx/nginx.conf" -g 'daemon off; master_process off;') || exit 1
    fi
    per_function "$dump" >"$dump.functions"
    TOTAL[$gateway-$path]=$(awk -v n="$N" '{ s += $1 } END { printf "%.0f", s / n }' "$dump.functions")
    SHA[$gateway-$path]=$(awk -v n="$N" '$2 ~ /sha256/ { s += $1 } END { printf "%.0f", s / n }' "$dump.functions")
    STATUSES[$gateway-$path]=$(cat "$WORK/$gateway-$path.statuses")
    if [ "$TOP" -gt 0 ]; then
      say "$gateway, $path key: top $TOP functions, own instructions per request"
      head -n "$TOP" "$dump.functions" | awk -v n="$N" -F'\t' '{ printf "%8.0f  %s\n", $1 / n, substr($2, 1, 110) }' >&2
    fi
  done
done

# ---------------------------------------------------------------- table
{
  echo "Instructions per request in user space (${PROTOCOL:-http1}), $N requests after $WARMUP, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "keygate: $("$KEYGATE_BIN" --version 2>/dev/null || echo "$KEYGATE_BIN"); nginx: $(nginx -v 2>&1 | sed 's/.*: //')"
  echo
  echo "| key | keygate | of which SHA-256 (portable code) | nginx | keygate / nginx | keygate without SHA-256 / nginx | statuses (keygate; nginx) |"
  echo "|---|---|---|---|---|---|---|"
  for path in valid unknown typec; do
    k=${TOTAL[keygate-$path]} s=${SHA[keygate-$path]} x=${TOTAL[nginx-$path]:-0}
    awk -v p="$path" -v k="$k" -v s="$s" -v x="$x" -v a="${STATUSES[keygate-$path]}" \
      -v b="${STATUSES[nginx-$path]:-}" 'BEGIN {
        r = x > 0 ? sprintf("%.2f", k / x) : "-"; q = x > 0 ? sprintf("%.2f", (k - s) / x) : "-"
        printf "| %s | %d | %d | %d | %s | %s | %s; %s |\n", p, k, s, x, r, q, a, b }'
  done
} | tee "$OUT"
say "written to $OUT"
