#!/usr/bin/env bash
# keygate's authorization-service check and nginx answering the same, in user-space
# instructions per request, counted rather than timed (the sibling of
# bench/instructions.sh, which counts the proxy path).
#
#   bench/authz_instructions.sh
#   N=2000 TOP=25 bench/authz_instructions.sh
#
# keygate runs bench/gen_config.py's 10k-key configuration with no proxy listener, only
# `authz.listen` (--authz-only), one worker and no access log; each request is an nginx
# `auth_request` check as bench/authz.sh sends it with wrk: `GET /nginx` with
# X-Original-Method, X-Original-URI and the key in `apikey`. Three checks are counted:
#
#   allowed   a valid key of client type A or B: 200 with the identity fields
#   401       an unknown key
#   403       a key of client type C (the route's `allow` refuses it)
#
# nginx answers the same checks itself, with `master_process off` and the peers' `map` of
# the same 10k keys (bench/peers/nginx-gateway.conf.tmpl): 200 with X-Consumer-Username and
# client-type set by `add_header`, 401 and 403 with keygate's JSON bodies. Its 401 is the
# "nginx answering its own 401" of issue 22's goal.
#
# Each process runs under valgrind's callgrind; WARMUP requests are sent, the counters
# zeroed, N requests sent over 10 keep-alive connections one at a time
# (bench/keepalive_client.py --path --header), the counters dumped and divided. All threads
# are counted; the kernel's work is not. callgrind offers no SHA extensions: keygate's
# SHA-256 runs the sha2 crate's portable code under it, shown on its own in the table (a
# 401 and a 403 hash the key too). The table goes to stdout and to
# bench/out/AUTHZ-INSTRUCTIONS-<date>.md.
#
# Environment (defaults in brackets): N [3000], WARMUP [500], TOP [0] (also list each
# process's TOP functions by own count), KEYGATE_BIN [target/release/keygate, built when
# missing], KG_AUTHZ_COUNT_PORT [8195] (admin on + 1000), NGINX_AUTHZ_COUNT_PORT [9196],
# KG_BENCH_DIR [${TMPDIR:-/tmp}/keygate-bench].
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$ROOT/bench/peers/peers.sh
export KG_BENCH_DIR=${KG_BENCH_DIR:-${TMPDIR:-/tmp}/keygate-bench}
N=${N:-3000} WARMUP=${WARMUP:-500} TOP=${TOP:-0}
KG_PORT=${KG_AUTHZ_COUNT_PORT:-8195} NGINX_PORT=${NGINX_AUTHZ_COUNT_PORT:-9196}
UPSTREAM_PORT=${UPSTREAM_PORT:-9001}
KEYGATE_BIN=$(realpath -m "${KEYGATE_BIN:-$ROOT/target/release/keygate}")
KEYS=$KG_BENCH_DIR/keys WORK=$KG_BENCH_DIR/authz-instructions
CLIENT=$ROOT/bench/keepalive_client.py
OUT=$ROOT/bench/out/AUTHZ-INSTRUCTIONS-$(date +%Y-%m-%d-%H%M%S).md

BENCH_NAME=authz-instructions
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

command -v valgrind >/dev/null || {
  say "installing valgrind"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
} || die "valgrind is needed"
# The peers' key sets and map; nothing here needs their upstream running.
"$PEERS" setup >/dev/null || die "peers.sh setup failed"
if [ ! -x "$KEYGATE_BIN" ]; then
  say "building keygate (release)"
  (cd "$ROOT" && cargo build --release -p keygate >/dev/null 2>&1) || die "build failed"
fi
for port in "$KG_PORT" "$NGINX_PORT" $((KG_PORT + 1000)); do
  answers "$port" && die "port $port is taken"
done
rm -rf "$WORK" && mkdir -p "$WORK/nginx/logs" "$ROOT/bench/out"

python3 "$ROOT/bench/gen_config.py" "$KEYS/keys-10k.txt" "$WORK/keygate.yaml" "$KG_PORT" \
  --store sqlite::memory: --admin-listen "127.0.0.1:$((KG_PORT + 1000))" \
  --upstream "http://127.0.0.1:$UPSTREAM_PORT" --authz-only >/dev/null ||
  die "gen_config.py failed"
cat >"$WORK/nginx/nginx.conf" <<EOF
# nginx answering keygate's authorization check itself: the peers' map of 10k keys.
worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    map_hash_max_size 16384;
    map_hash_bucket_size 256;
    map \$http_apikey \$key_record { default ""; include $KEYS/nginx-10k.map; }
    map \$key_record \$client_type   { default ""; "~^(?<kind>[^:]+):" \$kind; }
    map \$key_record \$consumer_name { default ""; "~^[^:]+:(?<name>.+)$" \$name; }
    map \$client_type \$type_allowed { default 0; A 1; B 1; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        default_type application/json;
        location = /nginx {
            if (\$key_record = "") { return 401 '{"message":"Invalid API key in request"}'; }
            if (\$type_allowed = 0) { return 403 '{"message":"You cannot consume this service"}'; }
            add_header X-Consumer-Username \$consumer_name;
            add_header client-type \$client_type;
            return 200;
        }
    }
}
EOF

CHECK=(--path /nginx --header "X-Original-Method: GET" --header "X-Original-URI: /")

# count NAME PORT KEY COMMAND...: COMMAND under callgrind, N checks with KEY counted on
# PORT; prints the dump's path.
count() {
  local name=$1 port=$2 key=$3 dump pid
  shift 3
  rm -f "$WORK/$name.out"*
  valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.out" --compress-strings=no \
    --compress-pos=no "$@" >"$WORK/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 600); do answers "$port" && break; sleep 0.2; done
  answers "$port" || die "$name did not start under callgrind (see $WORK/$name.log)"
  python3 "$CLIENT" "$port" "$key" "$WARMUP" "${CHECK[@]}" >/dev/null || die "$name: warm-up failed"
  callgrind_control -z "$pid" >/dev/null 2>&1
  python3 "$CLIENT" "$port" "$key" "$N" "${CHECK[@]}" >"$WORK/$name.statuses" ||
    die "$name: requests failed"
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"
  wait "$pid" 2>/dev/null
  dump=$(ls -t "$WORK/$name.out".* 2>/dev/null | head -1)
  [ -n "$dump" ] || die "$name: no counts were dumped"
  echo "$dump"
}

# Own instructions per function in a dump (costs after a `calls=` line belong to the callee).
per_function() {
  awk '/^fn=/ { fn = substr($0, 4); call = 0; next }
       /^calls=/ { call = 1; next }
       /^[0-9+*-]/ { if (call) { call = 0 } else { own[fn] += $2 } }
       END { for (f in own) printf "%d\t%s\n", own[f], f }' "$1" | sort -rn
}

declare -A TOTAL SHA STATUSES
for check in allowed 401 403; do
  case $check in allowed) keyfile=valid_key ;; 401) keyfile=invalid_key ;; 403) keyfile=typec_key ;; esac
  key=$(cat "$KEYS/$keyfile")
  for server in keygate nginx; do
    say "$server, $check check: $N requests under callgrind"
    if [ "$server" = keygate ]; then
      dump=$(cd "$WORK" && count "keygate-$check" "$KG_PORT" "$key" "$KEYGATE_BIN" serve \
        --config "$WORK/keygate.yaml" --workers 1 --access-log off) || exit 1
    else
      dump=$(count "nginx-$check" "$NGINX_PORT" "$key" nginx -p "$WORK/nginx/" \
        -c "$WORK/nginx/nginx.conf" -g 'daemon off; master_process off;') || exit 1
    fi
    per_function "$dump" >"$dump.functions"
    TOTAL[$server-$check]=$(awk -v n="$N" '{ s += $1 } END { printf "%.0f", s / n }' "$dump.functions")
    SHA[$server-$check]=$(awk -v n="$N" '$2 ~ /sha256/ { s += $1 } END { printf "%.0f", s / n }' "$dump.functions")
    STATUSES[$server-$check]=$(cat "$WORK/$server-$check.statuses")
    if [ "$TOP" -gt 0 ]; then
      say "$server, $check check: top $TOP functions, own instructions per request"
      head -n "$TOP" "$dump.functions" |
        awk -v n="$N" -F'\t' '{ printf "%8.0f  %s\n", $1 / n, substr($2, 1, 110) }' >&2
    fi
  done
done

{
  echo "Authorization checks (nginx auth_request shape), instructions per request in user space, $N requests after $WARMUP, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "keygate: $("$KEYGATE_BIN" --version 2>/dev/null || echo "$KEYGATE_BIN"); nginx: $(nginx -v 2>&1 | sed 's/.*: //')"
  echo
  echo "| check | keygate | of which SHA-256 (portable code) | nginx answering the same | keygate / nginx | keygate without SHA-256 / nginx's 401 | statuses (keygate; nginx) |"
  echo "|---|---|---|---|---|---|---|"
  for check in allowed 401 403; do
    k=${TOTAL[keygate-$check]} s=${SHA[keygate-$check]} x=${TOTAL[nginx-$check]}
    awk -v c="$check" -v k="$k" -v s="$s" -v x="$x" -v x401="${TOTAL[nginx-401]}" \
      -v a="${STATUSES[keygate-$check]}" -v b="${STATUSES[nginx-$check]}" 'BEGIN {
        printf "| %s | %d | %d | %d | %.2f | %.2f | %s; %s |\n", c, k, s, x, k / x, (k - s) / x401, a, b }'
  done
} | tee "$OUT"
say "written to $OUT"
