#!/usr/bin/env bash
# What counting rate limits and quotas costs, beside nginx's `limit_req`, in one run.
#
#   bench/limits.sh [KEYGATE_BINARY]
#   REPS=3 DURATION=5s CONCS="50 200" bench/limits.sh target/release/keygate
#
# Three keygate instances of one binary, each with one worker and no access log, on the
# benchmark job's 10k keys (bench/gen_config.py, `sqlite::memory:` store):
#
#   keygate          the route without limits
#   keygate-limits   the route with a rate limit and a quota, both by key (--limits), so
#                    high that no call is refused: every call is counted by both
#   keygate-redis    the same, the rate limit shared through Redis (`cluster.rate_limits`,
#                    synchronised every 100 ms; no Redis call on the request path)
#
# beside nginx doing the same job with a `limit_req` per key (peers.sh gateway with
# GATEWAY_LIMIT=1) and the peers' nginx and HAProxy without limits; wrk runs with a valid
# key, interleaved (peers.sh compare, KINDS=valid). Prints the table of medians; the
# ratios asked for are keygate-limits / keygate, keygate-limits / nginx-limit_req and
# keygate-redis / keygate-limits. A run in which a valid key was answered other than 2xx
# fails the script: a limit that refused would measure refusals.
#
# Environment: REPS (3), DURATION (5s), CONCS ("50 200"), KEYGATE_BIN (if not the
# argument; default target/release/keygate, built when missing), KG_PORT (8490, 8491 and
# 8492 for the three; admin on each + 1000), NGINX_LIMIT_PORT (9088), REDIS_URL
# (KEYGATE_TEST_REDIS_URL, else redis://127.0.0.1:6379), UPSTREAM_PORT (9001), KG_BENCH_DIR.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$ROOT/bench/peers/peers.sh
export KG_BENCH_DIR=${KG_BENCH_DIR:-${TMPDIR:-/tmp}/keygate-bench}
export REPS=${REPS:-3} DURATION=${DURATION:-5s} CONCS=${CONCS:-"50 200"}
KG_PORT=${KG_PORT:-8490} NGINX_LIMIT_PORT=${NGINX_LIMIT_PORT:-9088}
UPSTREAM_PORT=${UPSTREAM_PORT:-9001}
REDIS_URL=${REDIS_URL:-${KEYGATE_TEST_REDIS_URL:-redis://127.0.0.1:6379}}
KEYGATE_BIN=$(realpath -m "${1:-${KEYGATE_BIN:-$ROOT/target/release/keygate}}")
WORK=$KG_BENCH_DIR/limits

BENCH_NAME=limits
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "apikey: $2" "http://127.0.0.1:$1/"; }

prepare
redis_host=${REDIS_URL#redis://}
redis_host=${redis_host%%/*}
if ! (exec 3<>"/dev/tcp/${redis_host%:*}/${redis_host##*:}") 2>/dev/null; then
  die "no Redis answers at $REDIS_URL (set REDIS_URL)"
fi

rm -rf "$WORK" && mkdir -p "$WORK"
GATEWAY_LIMIT=1 "$PEERS" gateway "$NGINX_LIMIT_PORT" "$WORK/nginx-limit_req" \
  "127.0.0.1:$UPSTREAM_PORT" || die "peers.sh gateway failed"
answers "$NGINX_LIMIT_PORT" && die "port $NGINX_LIMIT_PORT is taken"
setsid nginx -p "$WORK/nginx-limit_req/" -c "$WORK/nginx-limit_req/nginx.conf" -g 'daemon off;' \
  >"$WORK/nginx-limit_req/nginx.log" 2>&1 </dev/null &
PIDS+=($!)

valid=$(cat "$KG_BENCH_DIR/keys/valid_key")
TARGETS=()
port=$KG_PORT
for side in keygate keygate-limits keygate-redis; do
  case $side in
    keygate) extra=() ;;
    keygate-limits) extra=(--limits) ;;
    keygate-redis) extra=(--limits --redis "$REDIS_URL") ;;
  esac
  answers "$port" && die "port $port is taken; set KG_PORT"
  mkdir -p "$WORK/$side"
  python3 "$ROOT/bench/gen_config.py" "$KG_BENCH_DIR/keys/keys-10k.txt" "$WORK/$side/keygate.yaml" \
    "$port" --store sqlite::memory: --admin-listen "127.0.0.1:$((port + 1000))" \
    --upstream "http://127.0.0.1:$UPSTREAM_PORT" "${extra[@]}" >/dev/null || die "gen_config.py failed"
  (cd "$WORK/$side" && exec "$KEYGATE_BIN" serve --config keygate.yaml --workers 1 --access-log off) \
    >"$WORK/$side/serve.log" 2>&1 </dev/null &
  PIDS+=($!)
  TARGETS+=("$side=$port")
  port=$((port + 1))
done
TARGETS+=("nginx-limit_req=$NGINX_LIMIT_PORT")
for target in "${TARGETS[@]}"; do
  for _ in $(seq 300); do
    [ "$(status "${target#*=}" "$valid")" = 200 ] && break
    sleep 0.1
  done
  [ "$(status "${target#*=}" "$valid")" = 200 ] || die "${target%%=*} did not answer 200 (see $WORK/)"
done
# The limits are there: the headers of the first keygate-limits answer name them.
policy=$(curl -s -D - -o /dev/null -H "apikey: $valid" "http://127.0.0.1:$((KG_PORT + 1))/" |
  tr -d '\r' | grep -i '^ratelimit-policy:')
[ -n "$policy" ] || die "keygate-limits sent no RateLimit-Policy: its limits are not in force"
say "keygate-limits: $policy"

say "compare (REPS=$REPS DURATION=$DURATION CONCS=\"$CONCS\")"
table=$(KINDS=valid "$PEERS" compare "${TARGETS[@]}") || die "peers.sh compare failed"
printf '%s\n' "$table"
python3 - "$table" <<'PY'
import sys

rows = {}
for line in sys.argv[1].splitlines():
    cells = [c.strip() for c in line.strip("|").split("|")]
    if len(cells) == 9 and cells[3].isdigit():
        rows[(cells[0], int(cells[1]))] = float(cells[4].replace(",", ""))
print()
for conns in sorted({c for _, c in rows}):
    def ratio(a, b):
        return rows[(a, conns)] / rows[(b, conns)]
    print(f"- {conns} connections: limits / no limits {ratio('keygate-limits', 'keygate'):.3f}, "
          f"limits / nginx limit_req {ratio('keygate-limits', 'nginx-limit_req'):.2f}, "
          f"Redis / local {ratio('keygate-redis', 'keygate-limits'):.3f}")
PY
