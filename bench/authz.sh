#!/usr/bin/env bash
# keygate as an authorization service (authz.listen), beside nginx, in one run.
#
#   bench/authz.sh [KEYGATE_BINARY]
#   REPS=3 DURATION=5s CONCS="50 200" bench/authz.sh target/release/keygate
#
# keygate runs with no proxy listener, only `authz.listen` and `authz.grpc_listen`
# (bench/gen_config.py --authz-only: the benchmark job's 10k keys, route and `allow`), one
# worker, no access log. Measured, interleaved, REPS times:
#
#   check      wrk sending nginx `auth_request` checks (GET /nginx with X-Original-Method,
#              X-Original-URI and a valid key: 200 with the identity fields) to keygate,
#              beside the peers' nginx answering its own 401 path (an unknown key), at
#              each of CONCS connections; the CPU time each server spent per request in
#              those runs is read from /proc and printed too
#   grpc       h2load calling envoy.service.auth.v3.Authorization/Check (h2c, GRPC_CONNS
#              connections x 10 streams) with a CheckRequest carrying a valid key
#   front      nginx with deploy/nginx/keygate-authz.conf (auth_request -> keygate ->
#              the upstream), beside the peers' nginx doing the job with its own `map`,
#              with a valid key at each of CONCS connections; during those runs the CPU
#              time of keygate and of the front nginx is read from /proc, and keygate's
#              share of the two is printed
#   floor      the same front nginx and snippet, but a second nginx answers the checks
#              (a constant 200 with three identity fields, no key looked at): the
#              cheapest an `auth_request` check can be while it is an HTTP exchange of
#              its own; its share of the CPU time is printed beside keygate's
#
# and last, one connection with one request at a time, the check alone against a request
# through the front nginx; with the gRPC runs, how many cores keygate kept busy.
#
# The CheckRequest is made with the Python `xds-protos` package (pip, installed when
# missing), the same messages Envoy sends. Everything listens on 127.0.0.1 and stops at
# the end.
#
# Environment: REPS (3), DURATION (5s), CONCS ("50 200"), GRPC_CONNS (10), KEYGATE_BIN (if
# not the argument; default target/release/keygate, built when missing), KG_AUTHZ_PORT
# (9190; gRPC on + 1, admin on + 1000), FRONT_PORT (9089; the floor's front on + 1, its
# checker on KG_AUTHZ_PORT + 2), UPSTREAM_PORT (9001), KG_BENCH_DIR (work folder).
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$ROOT/bench/peers/peers.sh
export KG_BENCH_DIR=${KG_BENCH_DIR:-${TMPDIR:-/tmp}/keygate-bench}
export REPS=${REPS:-3} DURATION=${DURATION:-5s} CONCS=${CONCS:-"50 200"}
GRPC_CONNS=${GRPC_CONNS:-10}
KG_AUTHZ_PORT=${KG_AUTHZ_PORT:-9190} FRONT_PORT=${FRONT_PORT:-9089}
UPSTREAM_PORT=${UPSTREAM_PORT:-9001} NGINX_PORT=${NGINX_PORT:-9080}
KG_GRPC_PORT=$((KG_AUTHZ_PORT + 1))
FLOOR_CHECK_PORT=$((KG_AUTHZ_PORT + 2)) FLOOR_FRONT_PORT=$((FRONT_PORT + 1))
KEYGATE_BIN=$(realpath -m "${1:-${KEYGATE_BIN:-$ROOT/target/release/keygate}}")
WORK=$KG_BENCH_DIR/authz
SECONDS_PER_RUN=${DURATION%s}

BENCH_NAME=authz
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
CHECK_HEADERS=$'X-Original-Method: GET\nX-Original-URI: /'
check_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "apikey: $1" -H "X-Original-Method: GET" \
    -H "X-Original-URI: /" "http://127.0.0.1:$KG_AUTHZ_PORT/nginx"
}

[[ $SECONDS_PER_RUN =~ ^[0-9]+$ ]] || die "DURATION must be whole seconds, such as 5s"
command -v h2load >/dev/null 2>&1 || {
  say "installing nghttp2-client (h2load) with apt"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client; } \
    >/dev/null || die "h2load is missing and could not be installed"
}
python3 -c 'import envoy.service.auth.v3.external_auth_pb2' 2>/dev/null || {
  say "installing xds-protos with pip"
  python3 -m pip install --quiet xds-protos grpcio >/dev/null || die "could not install xds-protos"
}
prepare
for port in "$KG_AUTHZ_PORT" "$KG_GRPC_PORT" "$FRONT_PORT" "$FLOOR_CHECK_PORT" "$FLOOR_FRONT_PORT"; do
  answers "$port" && die "port $port is taken"
done
rm -rf "$WORK" && mkdir -p "$WORK/keygate" "$WORK/front" "$WORK/floor-check" "$WORK/floor-front"
valid=$(cat "$KG_BENCH_DIR/keys/valid_key") invalid=$(cat "$KG_BENCH_DIR/keys/invalid_key")

python3 "$ROOT/bench/gen_config.py" "$KG_BENCH_DIR/keys/keys-10k.txt" "$WORK/keygate/keygate.yaml" \
  "$KG_AUTHZ_PORT" --store sqlite::memory: --admin-listen "127.0.0.1:$((KG_AUTHZ_PORT + 1000))" \
  --upstream "http://127.0.0.1:$UPSTREAM_PORT" --authz-only --authz-grpc "$KG_GRPC_PORT" \
  >/dev/null || die "gen_config.py failed"
(cd "$WORK/keygate" && exec "$KEYGATE_BIN" serve --config keygate.yaml --workers 1 --access-log off) \
  >"$WORK/keygate/serve.log" 2>&1 </dev/null &
KEYGATE_PID=$!
PIDS+=("$KEYGATE_PID")
for _ in $(seq 300); do
  [ "$(check_status "$valid")" = 200 ] && break
  sleep 0.1
done
[ "$(check_status "$valid")" = 200 ] || die "keygate's check did not answer 200 (see $WORK/keygate/)"
[ "$(check_status "$invalid")" = 401 ] || die "keygate's check let an unknown key through"

# one_worker_nginx DIR PORT BODY: a one-worker nginx in DIR with BODY inside `http { }`,
# no master process (the one process is the worker, whose CPU time is read below); its
# process id is added to PIDS and left in NGINX_PID.
one_worker_nginx() {
  cat >"$1/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 16384;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000;
    $3
}
EOF
  setsid nginx -p "$1/" -c "$1/nginx.conf" -g 'daemon off; master_process off;' \
    >"$1/nginx.log" 2>&1 </dev/null &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  for _ in $(seq 100); do answers "$2" && break; sleep 0.1; done
}
# front_snippet DIR FRONT CHECKER: the shipped snippet with this run's addresses in DIR.
front_snippet() {
  sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$2/" -e "s/127\.0\.0\.1:9190/127.0.0.1:$3/" \
    -e "s/127\.0\.0\.1:9001/127.0.0.1:$UPSTREAM_PORT/" "$ROOT/deploy/nginx/keygate-authz.conf" \
    >"$1/keygate-authz.conf"
}
# front_status PORT KEY: the status a front nginx answers for KEY.
front_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "apikey: $2" "http://127.0.0.1:$1/"
}

# The front nginx: the shipped snippet in front of keygate.
front_snippet "$WORK/front" "$FRONT_PORT" "$KG_AUTHZ_PORT"
one_worker_nginx "$WORK/front" "$FRONT_PORT" "include keygate-authz.conf;"
FRONT_PID=$NGINX_PID
[ "$(front_status "$FRONT_PORT" "$valid")" = 200 ] &&
  [ "$(front_status "$FRONT_PORT" "$invalid")" = 401 ] ||
  die "nginx with keygate-authz.conf did not answer 200 and 401 (see $WORK/front/)"

# The floor: the same snippet in front of an nginx that allows every check at once.
one_worker_nginx "$WORK/floor-check" "$FLOOR_CHECK_PORT" "server {
        listen 127.0.0.1:$FLOOR_CHECK_PORT;
        location = /nginx {
            add_header X-Consumer-Username consumer-a;
            add_header X-Credential-Identifier key-a;
            add_header client-type A;
            return 200;
        }
    }"
FLOOR_CHECK_PID=$NGINX_PID
front_snippet "$WORK/floor-front" "$FLOOR_FRONT_PORT" "$FLOOR_CHECK_PORT"
one_worker_nginx "$WORK/floor-front" "$FLOOR_FRONT_PORT" "include keygate-authz.conf;"
FLOOR_FRONT_PID=$NGINX_PID
[ "$(front_status "$FLOOR_FRONT_PORT" "$valid")" = 200 ] ||
  die "the floor's pair of nginx did not answer 200 (see $WORK/floor-front/)"

# One CheckRequest as Envoy sends it, framed for gRPC (a 0 byte, the length, the message).
python3 - "$valid" "$WORK/check.bin" <<'PY' || die "could not write the CheckRequest"
import struct
import sys

from envoy.service.auth.v3 import external_auth_pb2

request = external_auth_pb2.CheckRequest()
http = request.attributes.request.http
http.method, http.path, http.host, http.protocol = "GET", "/", "127.0.0.1", "HTTP/1.1"
http.headers["apikey"] = sys.argv[1]
http.headers[":authority"] = "127.0.0.1"
request.attributes.source.address.socket_address.address = "127.0.0.1"
body = request.SerializeToString()
open(sys.argv[2], "wb").write(struct.pack(">BI", 0, len(body)) + body)
PY
python3 - "$KG_GRPC_PORT" "$valid" <<'PY' || die "keygate's gRPC Check did not allow a valid key"
import sys

import grpc
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc

request = external_auth_pb2.CheckRequest()
http = request.attributes.request.http
http.method, http.path, http.host = "GET", "/", "127.0.0.1"
http.headers["apikey"] = sys.argv[2]
with grpc.insecure_channel(f"127.0.0.1:{sys.argv[1]}") as channel:
    answer = external_auth_pb2_grpc.AuthorizationStub(channel).Check(request, timeout=5)
sys.exit(0 if answer.status.code == 0 else 1)
PY

# grpc PORT: "rps - - failed 0" of one h2load run of Check calls.
grpc() {
  local report
  report=$(h2load -t1 -c"$GRPC_CONNS" -m10 -D"$SECONDS_PER_RUN" --warm-up-time 1 -d "$WORK/check.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$1/envoy.service.auth.v3.Authorization/Check" 2>&1)
  python3 - "$report" <<'PY'
import re, sys

report = sys.argv[1]
rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", report).group(1))
codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", report)
done = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", report)
bad = int(codes.group(3)) + int(codes.group(4)) + sum(int(n) for n in done.groups()[1:])
print(f"{rps:.0f} - - {bad} 0")
PY
}

# cpu PID: the process's user + system CPU time so far, in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

rows=$WORK/rows shares=$WORK/shares floor_shares=$WORK/floor_shares check_cpu=$WORK/check_cpu
: >"$check_cpu"
# The peers' nginx worker (one), whose CPU time per 401 is set beside keygate's per check.
NGINX_401_PID=$(pgrep -P "$(cat "$KG_BENCH_DIR/run/nginx/nginx.pid")" | head -1)
[ -n "$NGINX_401_PID" ] || die "the peers' nginx has no worker process"
: >"$rows"
: >"$shares"
: >"$floor_shares"
say "warming up"
RUN_PATH=/nginx RUN_HEADERS=$CHECK_HEADERS "$PEERS" run "$KG_AUTHZ_PORT" "$valid" 50 2s >/dev/null
"$PEERS" run "$FRONT_PORT" "$valid" 50 2s >/dev/null
"$PEERS" run "$FLOOR_FRONT_PORT" "$valid" 50 2s >/dev/null
"$PEERS" run "$NGINX_PORT" "$valid" 50 2s >/dev/null
say "REPS=$REPS DURATION=$DURATION CONCS=\"$CONCS\" GRPC_CONNS=$GRPC_CONNS"
for rep in $(seq "$REPS"); do
  for conc in $CONCS; do
    for i in 0 1; do
      if [ $(((i + rep) % 2)) = 0 ]; then
        before=$(cpu "$KEYGATE_PID")
        result=$(RUN_PATH=/nginx RUN_HEADERS=$CHECK_HEADERS "$PEERS" run "$KG_AUTHZ_PORT" "$valid" "$conc")
        echo "keygate-check $conc $(($(cpu "$KEYGATE_PID") - before)) $result" >>"$check_cpu"
        echo "keygate-check check $conc $result" >>"$rows"
      else
        before=$(cpu "$NGINX_401_PID")
        result=$("$PEERS" run "$NGINX_PORT" "$invalid" "$conc")
        echo "nginx-401 $conc $(($(cpu "$NGINX_401_PID") - before)) $result" >>"$check_cpu"
        result=$(echo "$result" | awk '{print $1, $2, $3, 0, $5}') # its 401s are the job
        echo "nginx-401 check $conc $result" >>"$rows"
      fi
      say "check $conc: $result"
    done
    for i in 0 1; do
      if [ $(((i + rep) % 2)) = 0 ]; then
        before_kg=$(cpu "$KEYGATE_PID") before_front=$(cpu "$FRONT_PID")
        result=$("$PEERS" run "$FRONT_PORT" "$valid" "$conc")
        echo "$(($(cpu "$KEYGATE_PID") - before_kg)) $(($(cpu "$FRONT_PID") - before_front))" >>"$shares"
        echo "nginx+keygate front $conc $result" >>"$rows"
      else
        result=$("$PEERS" run "$NGINX_PORT" "$valid" "$conc")
        echo "nginx-map front $conc $result" >>"$rows"
      fi
      say "front $conc: $result"
      [ "$(echo "$result" | cut -d' ' -f4)" = 0 ] || die "a valid key was answered other than 2xx"
    done
    before_check=$(cpu "$FLOOR_CHECK_PID") before_front=$(cpu "$FLOOR_FRONT_PID")
    result=$("$PEERS" run "$FLOOR_FRONT_PORT" "$valid" "$conc")
    echo "$(($(cpu "$FLOOR_CHECK_PID") - before_check)) $(($(cpu "$FLOOR_FRONT_PID") - before_front))" \
      >>"$floor_shares"
    echo "nginx+nginx floor $conc $result" >>"$rows"
    say "floor $conc: $result"
  done
  before_kg=$(cpu "$KEYGATE_PID") started=$(date +%s%N)
  result=$(grpc "$KG_GRPC_PORT")
  # How many cores keygate kept busy meanwhile (h2load's warm-up second included).
  echo "$(($(cpu "$KEYGATE_PID") - before_kg)) $((($(date +%s%N) - started) / 1000000))" >>"$WORK/grpc_cpu"
  echo "keygate-grpc grpc $GRPC_CONNS $result" >>"$rows"
  say "grpc: $result"
  [ "$(echo "$result" | cut -d' ' -f4)" = 0 ] || die "gRPC checks failed"
done

# One connection, one request at a time: how much of a request's time through the front
# nginx is keygate's check.
alone=$(RUN_PATH=/nginx RUN_HEADERS=$CHECK_HEADERS "$PEERS" run "$KG_AUTHZ_PORT" "$valid" 1)
through=$("$PEERS" run "$FRONT_PORT" "$valid" 1)
say "one connection: check $alone; through nginx $through"
echo "$alone $through" >"$WORK/latency"

python3 - "$rows" "$shares" "$WORK/latency" "$WORK/grpc_cpu" "$(getconf CLK_TCK)" "$floor_shares" \
  "$check_cpu" "$SECONDS_PER_RUN" <<'PY'
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
for line in open(sys.argv[1]):
    name, case, conns, rate, p50, p99, *_ = line.split()
    runs[(case, int(conns), name)].append((float(rate), p50, p99))


def median(values, column):
    picked = [float(v[column]) for v in values if v[column] != "-"]
    return statistics.median(picked) if picked else None


print("| case | conns | keygate side | rps | p99 ms | peer | rps | p99 ms | ratio |")
print("|---|---|---|---|---|---|---|---|---|")
pairs = {
    "check": ("keygate-check", "nginx-401"),
    "front": ("nginx+keygate", "nginx-map"),
    "floor": ("nginx+nginx", "nginx-map"),
}
for (case, conns) in sorted({(c, n) for c, n, _ in runs}):
    if case == "grpc":
        values = runs[(case, conns, "keygate-grpc")]
        print(f"| gRPC Check | {conns}x10 | keygate-grpc | {median(values, 0):,.0f} | - | - | - | - | - |")
        continue
    ours, peer = pairs[case]
    # The floor's peer is the front runs' nginx with its own `map`.
    a, b = runs[(case, conns, ours)], runs[("front" if case == "floor" else case, conns, peer)]
    print(f"| {case} | {conns} | {ours} | {median(a, 0):,.0f} | {median(a, 2):.2f} | {peer} "
          f"| {median(b, 0):,.0f} | {median(b, 2):.2f} | {median(a, 0) / median(b, 0):.2f} |")
shares = [tuple(map(int, line.split())) for line in open(sys.argv[2])]
keygate, front = sum(s[0] for s in shares), sum(s[1] for s in shares)
alone, through = open(sys.argv[3]).read().split()[1::5][:2]
print(f"\nOne connection, one request at a time: the check alone {float(alone):.3f} ms (p50), a "
      f"request through nginx + keygate {float(through):.3f} ms: the check is "
      f"{float(alone) / float(through):.0%} of it (the loopback hop included)")
ticks, millis = map(sum, zip(*(map(int, line.split()) for line in open(sys.argv[4]))))
print(f"During the gRPC runs keygate used {ticks / int(sys.argv[5]) / (millis / 1000):.2f} "
      "cores (CPU time over wall time)")
if keygate + front:
    print(f"\nkeygate's share of the CPU time of nginx + keygate in the front runs: "
          f"{keygate / (keygate + front):.1%} ({keygate} and {front} clock ticks)")
# CPU time per request in the check runs: requests per second can be held back by the
# load generator and the machine's other tenants; the CPU time each server spent on its
# requests is what the server itself costs.
spent = defaultdict(lambda: [0, 0.0])
for line in open(sys.argv[7]):
    name, conns, ticks, rate, *_ = line.split()
    spent[(int(conns), name)][0] += int(ticks)
    spent[(int(conns), name)][1] += float(rate) * int(sys.argv[8])
for conns in sorted({c for c, _ in spent}):
    per = {name: ticks / int(sys.argv[5]) / requests * 1e6
           for (c, name), (ticks, requests) in spent.items() if c == conns and requests}
    if len(per) == 2:
        print(f"CPU time per request, {conns} connections: keygate's check {per['keygate-check']:.2f} µs, "
              f"nginx's own 401 {per['nginx-401']:.2f} µs (checks per CPU-second, keygate / nginx: "
              f"{per['nginx-401'] / per['keygate-check']:.2f})")
floor = [tuple(map(int, line.split())) for line in open(sys.argv[6])]
checker, floor_front = sum(s[0] for s in floor), sum(s[1] for s in floor)
if checker + floor_front:
    print(f"The floor: an nginx answering every check with a constant 200 took "
          f"{checker / (checker + floor_front):.1%} of the CPU time of the pair "
          f"({checker} and {floor_front} clock ticks)")
PY
