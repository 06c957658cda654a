#!/usr/bin/env bash
# keygate's benchmark peers: nginx and HAProxy doing keygate's job, and an nginx upstream,
# all on 127.0.0.1, each with one worker. Used by bench/run.sh, bench/instructions.sh and
# the other scripts of bench/; works from a clone of the repository alone.
#
#   peers.sh setup     install nginx, HAProxy and wrk with apt when one is missing; write
#                      the key sets (gen_keys.py) and the peers' configurations
#   peers.sh start     start the upstream, nginx with 10k keys, nginx with 1M keys and
#                      HAProxy with 10k keys (what already runs is kept)
#   peers.sh stop      stop what `start` started, by the process ids it wrote down
#   peers.sh ports     print the NAME=PORT of each peer on one line
#   peers.sh run PORT KEY CONNS [DURATION]
#                      one wrk run with KEY in `apikey`; prints "rps p50_ms p99_ms non2xx
#                      socket_errors" (SCHEME=https: over TLS)
#   peers.sh gateway PORT DIR ADDRESS...
#                      write DIR/nginx.conf: nginx doing the job with 10k keys on PORT,
#                      proxying to the upstream servers ADDRESS... (bench/failover.sh);
#                      with GATEWAY_TLS="TLS_PORT CERT KEY" also on TLS_PORT over HTTPS
#                      and HTTP/2 (bench/tls.sh); with GATEWAY_LIMIT=1 a `limit_req` per
#                      key, never reached (bench/limits.sh)
#   peers.sh compare NAME=PORT...
#                      interleaved wrk runs of the named gateways, nginx and HAProxy, with a
#                      valid, an unknown and a type-C key at each of CONCS connections, REPS
#                      times (KINDS="valid" runs the valid key alone); prints a Markdown
#                      table of medians and ratios to nginx; fails when a valid key was
#                      answered other than 2xx
#
# Environment: KG_BENCH_DIR (work folder; default ${TMPDIR:-/tmp}/keygate-bench), REPS (3),
# DURATION (10s), CONCS ("50 200"), UPSTREAM_PORT (9001), NGINX_PORT (9080), NGINX_1M_PORT
# (9081), HAPROXY_PORT (9082).
#
# A gateway compared with the peers must do what they do: read the key from `apikey`,
# answer 401 when it is missing or unknown and 403 when its client type is neither A nor B,
# else set X-Consumer-Username and the client type, remove the key, and proxy to
# 127.0.0.1:$UPSTREAM_PORT. The key sets are in $KG_BENCH_DIR/keys/.
set -u
PEERS_DIR=$(cd "$(dirname "$0")" && pwd)
BENCH_DIR=${KG_BENCH_DIR:-${TMPDIR:-/tmp}/keygate-bench}
KEYS=$BENCH_DIR/keys
RUN=$BENCH_DIR/run
UPSTREAM_PORT=${UPSTREAM_PORT:-9001}
NGINX_PORT=${NGINX_PORT:-9080}
NGINX_1M_PORT=${NGINX_1M_PORT:-9081}
HAPROXY_PORT=${HAPROXY_PORT:-9082}
REPS=${REPS:-3}
DURATION=${DURATION:-10s}
CONCS=${CONCS:-"50 200"}

# render TEMPLATE OUTPUT NAME=VALUE...: the template with each @NAME@ replaced.
render() {
  local template=$1 output=$2 text pair
  shift 2
  text=$(<"$template")
  for pair in "$@"; do
    text=${text//@${pair%%=*}@/${pair#*=}}
  done
  printf '%s\n' "$text" >"$output"
}

setup() {
  local missing=()
  for tool in nginx haproxy wrk; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "peers: installing ${missing[*]} with apt" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
      { echo "peers: could not install ${missing[*]}" >&2; return 1; }
  fi
  if [ ! -s "$KEYS/keys-1m.txt" ] || [ ! -s "$KEYS/invalid_key" ]; then
    python3 "$PEERS_DIR/gen_keys.py" "$KEYS" || return 1
  fi
  mkdir -p "$RUN/upstream" "$RUN/nginx" "$RUN/nginx-1m" "$RUN/haproxy"
  render "$PEERS_DIR/upstream.conf.tmpl" "$RUN/upstream/nginx.conf" "PORT=$UPSTREAM_PORT"
  gateway "$NGINX_PORT" "$RUN/nginx" "127.0.0.1:$UPSTREAM_PORT"
  render "$PEERS_DIR/nginx-gateway.conf.tmpl" "$RUN/nginx-1m/nginx.conf" "PORT=$NGINX_1M_PORT" \
    "SERVERS=server 127.0.0.1:$UPSTREAM_PORT;" "MAP=$KEYS/nginx-1m.map" HASH_MAX=1048576 HASH_BUCKET=512 TLS= \
    LIMIT_ZONE= LIMIT=
  render "$PEERS_DIR/haproxy-gateway.cfg.tmpl" "$RUN/haproxy/haproxy.cfg" "PORT=$HAPROXY_PORT" \
    "UPSTREAM_PORT=$UPSTREAM_PORT" "MAP=$KEYS/haproxy-10k.map" "RUN=$RUN/haproxy"
}

# gateway PORT DIR ADDRESS...: writes DIR/nginx.conf, nginx doing the job with 10k keys on
# PORT, its upstream the servers at ADDRESS... (nginx's defaults: round robin, max_fails=1,
# fail_timeout=10s, proxy_next_upstream error timeout). With GATEWAY_TLS="TLS_PORT CERT
# KEY", nginx also serves HTTPS with HTTP/2 (ALPN) on TLS_PORT: TLS 1.2 and 1.3, session
# tickets and a session cache, as keygate offers them. With GATEWAY_LIMIT=1, a rate limit
# per key (`limit_req`, 1,000,000 r/s with a burst of 10,000: never reached, as the limits
# bench/gen_config.py --limits writes), checked after the key as keygate's are.
gateway() {
  local port=$1 dir=$2 servers="" address tls="" tls_port cert key zone="" limit=""
  shift 2
  for address in "$@"; do servers+="server $address; "; done
  if [ -n "${GATEWAY_TLS:-}" ]; then
    read -r tls_port cert key <<<"$GATEWAY_TLS"
    tls="listen 127.0.0.1:$tls_port ssl http2 backlog=4096; ssl_certificate $cert;"
    tls+=" ssl_certificate_key $key; ssl_protocols TLSv1.2 TLSv1.3;"
    tls+=" ssl_session_cache shared:SSL:10m; ssl_session_tickets on;"
    tls+=" http2_max_concurrent_streams 128;"
  fi
  if [ "${GATEWAY_LIMIT:-0}" = 1 ]; then
    zone='limit_req_zone $http_apikey zone=per_key:10m rate=1000000r/s;'
    limit='limit_req zone=per_key burst=10000 nodelay;'
  fi
  mkdir -p "$dir"
  render "$PEERS_DIR/nginx-gateway.conf.tmpl" "$dir/nginx.conf" "PORT=$port" \
    "SERVERS=$servers" "MAP=$KEYS/nginx-10k.map" HASH_MAX=16384 HASH_BUCKET=256 "TLS=$tls" \
    "LIMIT_ZONE=$zone" "LIMIT=$limit"
}

# answers PORT PID: waits (at most 12 s) until something answers HTTP on PORT, as long as
# PID lives.
answers() {
  local port=$1 pid=$2 tries
  for tries in $(seq 600); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}

# start_peer NAME PORT COMMAND...: starts COMMAND in its own session unless the process of
# an earlier start still runs; its id goes to $RUN/NAME.pid, its output to $RUN/NAME.log.
start_peer() {
  local name=$1 port=$2 pid_file=$RUN/$1.pid
  shift 2
  if [ -s "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    return 0
  fi
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
    echo "peers: $name: something this folder's peers did not start already answers on port $port; it is used as is" >&2
    return 0
  fi
  setsid "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
  answers "$port" $! && kill -0 "$(cat "$pid_file")" 2>/dev/null ||
    { echo "peers: $name did not start; see $RUN/$name.log" >&2; rm -f "$pid_file"; return 1; }
}

start() {
  [ -s "$RUN/haproxy/haproxy.cfg" ] || setup || return 1
  start_peer upstream "$UPSTREAM_PORT" nginx -p "$RUN/upstream/" -c "$RUN/upstream/nginx.conf" -g 'daemon off;' &&
    start_peer nginx "$NGINX_PORT" nginx -p "$RUN/nginx/" -c "$RUN/nginx/nginx.conf" -g 'daemon off;' &&
    start_peer nginx-1m "$NGINX_1M_PORT" nginx -p "$RUN/nginx-1m/" -c "$RUN/nginx-1m/nginx.conf" -g 'daemon off;' &&
    start_peer haproxy "$HAPROXY_PORT" haproxy -db -f "$RUN/haproxy/haproxy.cfg"
}

stop() {
  local name pid_file pid
  for name in haproxy nginx-1m nginx upstream; do
    pid_file=$RUN/$name.pid
    [ -s "$pid_file" ] || continue
    pid=$(cat "$pid_file")
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    rm -f "$pid_file"
  done
}

# run PORT KEY CONNS [DURATION]: one wrk run on one thread; "rps p50_ms p99_ms non2xx
# socket_errors" (connect, read, write and timeout errors added up). SCHEME=https runs it
# over TLS (HTTP/1.1: wrk offers no ALPN); RUN_PATH asks for another path than `/`;
# RUN_HEADERS adds fields, one `Name: value` a line (bench/authz.sh).
run() {
  local report header extra=()
  while IFS= read -r header; do
    [ -n "$header" ] && extra+=(-H "$header")
  done <<<"${RUN_HEADERS:-}"
  report=$(wrk -t1 -c"$3" -d"${4:-$DURATION}" --latency -H "apikey: $2" "${extra[@]}" \
    "${SCHEME:-http}://127.0.0.1:$1${RUN_PATH:-/}" 2>&1)
  python3 - "$report" <<'PY'
import re, sys

report = sys.argv[1]


def millis(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


rps = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))
latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", report, re.M))
refused = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
failed = sum(int(n) for n in errors.groups()) if errors else 0
print(f"{rps:.0f} {millis(latency['50']):.3f} {millis(latency['99']):.3f} {refused.group(1) if refused else 0} {failed}")
PY
}

# compare NAME=PORT...: the named gateways beside nginx and HAProxy (10k keys each).
compare() {
  local targets=("$@" "nginx=$NGINX_PORT" "haproxy=$HAPROXY_PORT")
  local rows=$BENCH_DIR/compare.$$ count=$(($# + 2))
  local valid invalid typec target rep conc kind key i result failed=0
  valid=$(cat "$KEYS/valid_key") invalid=$(cat "$KEYS/invalid_key") typec=$(cat "$KEYS/typec_key")
  : >"$rows"
  for target in "${targets[@]}"; do # warm every pool up first
    run "${target#*=}" "$valid" 50 2s >/dev/null
  done
  for rep in $(seq "$REPS"); do
    for conc in $CONCS; do
      for kind in ${KINDS:-valid invalid typec}; do
        case $kind in valid) key=$valid ;; invalid) key=$invalid ;; typec) key=$typec ;; esac
        for i in $(seq 0 $((count - 1))); do # a different order each repetition
          target=${targets[$(((i + rep) % count))]}
          result=$(run "${target#*=}" "$key" "$conc")
          echo "${target%%=*} $conc $kind $result" >>"$rows"
          # A valid key answered other than 2xx measures refusals, not the job.
          if [ "$kind" = valid ] && [ "$(echo "$result" | cut -d' ' -f4)" != 0 ]; then
            echo "peers: ${target%%=*} answered a valid key other than 2xx: $result" >&2
            failed=1
          fi
        done
      done
    done
  done
  python3 - "$rows" <<'PY'
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
for line in open(sys.argv[1]):
    name, conns, kind, rps, p50, p99, *_ = line.split()
    runs[(name, int(conns), kind)].append((float(rps), float(p50), float(p99)))


def median(values, column):
    return statistics.median(value[column] for value in values)


print("| gateway | conns | key | runs | rps median | p50 ms | p99 ms | rps / nginx | p99 / nginx |")
print("|---|---|---|---|---|---|---|---|---|")
for (name, conns, kind), values in sorted(runs.items(), key=lambda item: (item[0][2], item[0][1], item[0][0])):
    nginx = runs.get(("nginx", conns, kind))
    rps_ratio = median(values, 0) / median(nginx, 0) if nginx else float("nan")
    p99_ratio = median(values, 2) / median(nginx, 2) if nginx else float("nan")
    print(f"| {name} | {conns} | {kind} | {len(values)} | {median(values, 0):,.0f} | {median(values, 1):.2f} "
          f"| {median(values, 2):.2f} | {rps_ratio:.2f} | {p99_ratio:.2f} |")
PY
  rm -f "$rows"
  return "$failed"
}

case ${1:-} in
  setup) setup ;;
  start) start ;;
  stop) stop ;;
  ports) echo "upstream=$UPSTREAM_PORT nginx=$NGINX_PORT nginx-1m=$NGINX_1M_PORT haproxy=$HAPROXY_PORT" ;;
  run) shift; run "$@" ;;
  gateway) shift; gateway "$@" ;;
  compare) shift; compare "$@" ;;
  *) sed -n 2,30p "$0"; exit 2 ;;
esac
