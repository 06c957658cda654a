#!/usr/bin/env bash
# keygate beside nginx over TLS and HTTP/2, in one run.
#
#   bench/tls.sh [KEYGATE_BINARY]
#   REPS=3 DURATION=5s CONCS="50 200" bench/tls.sh target/release/keygate
#
# Both gateways do the benchmark job (bench/peers/peers.sh: the key in `apikey`, 401/403
# JSON, identity headers, the key removed, a keep-alive pool to the upstream) on two
# listeners each: plain HTTP and HTTPS with HTTP/2 by ALPN, one self-signed P-256
# certificate made here for both, TLS 1.2 and 1.3, session tickets on. nginx runs one
# worker, keygate `--workers 1 --access-log off`. Every case runs REPS times, keygate and
# nginx interleaved in an order that changes each repetition:
#
#   plain      wrk, HTTP/1.1 keep-alive, a valid key, at each of CONCS connections
#   tls        wrk over TLS (HTTP/1.1: wrk offers no ALPN), keep-alive, valid key, CONCS
#   h2         h2load, HTTP/2 over TLS, H2_CONNS connections x 10 streams, valid key
#   full       `openssl s_time -new -www /`: a new connection with a full handshake and
#              one request (no key: a 401) each, S_TIME_CLIENTS clients at once
#   resumed    the same with `-reuse`: every connection after a client's first resumes its
#              session (a TLS 1.3 ticket)
#
# Prints a Markdown table of medians (requests or connections per second, wrk's p50 and
# p99) with keygate / nginx ratios, and each gateway's negotiated TLS version and cipher.
# Everything listens on 127.0.0.1 and stops at the end.
#
# Environment: REPS (3), DURATION (5s), CONCS ("50 200"), H2_CONNS (50), S_TIME_CLIENTS
# (2), KEYGATE_BIN (if not the argument; default target/release/keygate, built when
# missing), KG_PORT (8390, HTTPS on KG_PORT + 1, admin on KG_PORT + 1000), NGINX_TLS_PORT
# (9085, HTTPS on NGINX_TLS_PORT + 1), UPSTREAM_PORT (9001), KG_BENCH_DIR (work folder).
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$ROOT/bench/peers/peers.sh
export KG_BENCH_DIR=${KG_BENCH_DIR:-${TMPDIR:-/tmp}/keygate-bench}
export REPS=${REPS:-3} DURATION=${DURATION:-5s} CONCS=${CONCS:-"50 200"}
H2_CONNS=${H2_CONNS:-50} S_TIME_CLIENTS=${S_TIME_CLIENTS:-2}
KG_PORT=${KG_PORT:-8390} NGINX_TLS_PORT=${NGINX_TLS_PORT:-9085} UPSTREAM_PORT=${UPSTREAM_PORT:-9001}
KG_TLS_PORT=$((KG_PORT + 1)) NGINX_HTTPS_PORT=$((NGINX_TLS_PORT + 1))
KEYGATE_BIN=$(realpath -m "${1:-${KEYGATE_BIN:-$ROOT/target/release/keygate}}")
WORK=$KG_BENCH_DIR/tls
SECONDS_PER_RUN=${DURATION%s}

BENCH_NAME=tls
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
# status SCHEME PORT KEY: the status of one request with KEY.
status() {
  curl -sk -o /dev/null -w '%{http_code}' --max-time 5 -H "apikey: $3" "$1://127.0.0.1:$2/"
}

[[ $SECONDS_PER_RUN =~ ^[0-9]+$ ]] || die "DURATION must be whole seconds, such as 5s"
for tool in wrk h2load openssl; do
  command -v "$tool" >/dev/null 2>&1 && continue
  say "installing $tool's package with apt"
  package=$tool
  [ "$tool" = h2load ] && package=nghttp2-client
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package"; } \
    >/dev/null || die "$tool is missing and could not be installed"
done
prepare
for port in "$KG_PORT" "$KG_TLS_PORT" "$NGINX_TLS_PORT" "$NGINX_HTTPS_PORT"; do
  answers "$port" && die "port $port is taken"
done

rm -rf "$WORK" && mkdir -p "$WORK/keygate" "$WORK/nginx"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$WORK/bench.key" -out "$WORK/bench.crt" 2>/dev/null || die "openssl req failed"

GATEWAY_TLS="$NGINX_HTTPS_PORT $WORK/bench.crt $WORK/bench.key" \
  "$PEERS" gateway "$NGINX_TLS_PORT" "$WORK/nginx" "127.0.0.1:$UPSTREAM_PORT" ||
  die "peers.sh gateway failed"
setsid nginx -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' \
  >"$WORK/nginx/nginx.log" 2>&1 </dev/null &
PIDS+=($!)

python3 "$ROOT/bench/gen_config.py" "$KG_BENCH_DIR/keys/keys-10k.txt" "$WORK/keygate/keygate.yaml" \
  "$KG_PORT" --store sqlite::memory: --admin-listen "127.0.0.1:$((KG_PORT + 1000))" \
  --upstream "http://127.0.0.1:$UPSTREAM_PORT" --tls-listen "$KG_TLS_PORT" \
  --cert "$WORK/bench.crt" --key "$WORK/bench.key" >/dev/null || die "gen_config.py failed"
(cd "$WORK/keygate" && exec "$KEYGATE_BIN" serve --config keygate.yaml --workers 1 --access-log off) \
  >"$WORK/keygate/serve.log" 2>&1 </dev/null &
PIDS+=($!)

valid=$(cat "$KG_BENCH_DIR/keys/valid_key")
for target in "keygate $KG_PORT $KG_TLS_PORT" "nginx $NGINX_TLS_PORT $NGINX_HTTPS_PORT"; do
  read -r name plain https <<<"$target"
  for _ in $(seq 300); do
    [ "$(status https "$https" "$valid")" = 200 ] && break
    sleep 0.1
  done
  [ "$(status http "$plain" "$valid")" = 200 ] && [ "$(status https "$https" "$valid")" = 200 ] ||
    die "$name did not answer 200 on both listeners (see $WORK/$name/)"
  negotiated=$(openssl s_client -connect "127.0.0.1:$https" -alpn h2,http/1.1 </dev/null 2>/dev/null |
    awk '/^New, /{print $2, $5} /^ALPN protocol/{print "ALPN", $3}' | paste -sd' ')
  say "$name: http $plain, https $https ($negotiated)"
  echo "$name $negotiated" >>"$WORK/negotiated"
done

# h2 PORT: "rps" of one h2load run with a valid key, and its failures (non-2xx, errors).
h2() {
  local report
  report=$(h2load -t1 -c"$H2_CONNS" -m10 -D"$SECONDS_PER_RUN" --warm-up-time 1 \
    -H "apikey: $valid" "https://127.0.0.1:$1/" 2>&1)
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

# handshakes PORT MODE: connections per second of S_TIME_CLIENTS `openssl s_time` clients
# at once (MODE -new: full handshakes; -reuse: resumed), each connection one request.
handshakes() {
  local i files=() clients=()
  for i in $(seq "$S_TIME_CLIENTS"); do
    files+=("$WORK/s_time.$i")
    openssl s_time -connect "127.0.0.1:$1" "$2" -www / -time "$SECONDS_PER_RUN" \
      >"$WORK/s_time.$i" 2>&1 &
    clients+=($!)
  done
  wait "${clients[@]}"
  python3 - "$SECONDS_PER_RUN" "$2" "${files[@]}" <<'PY'
import re, sys

seconds, mode, files = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
total, fresh = 0, 0
for name in files:
    text = open(name).read()
    total += int(re.search(r"(\d+) connections in [\d.]+ real seconds", text).group(1))
    # s_time prints one mark per connection: `*` a full handshake, `r` a resumed one.
    marks = text.split("starting", 1)[-1]
    fresh += marks.count("*")
# With -reuse every client's first connection is a full handshake; more means tickets
# were refused and the figure is not one of resumption.
if mode == "-reuse" and fresh > len(files):
    print(f"s_time: {fresh} of {total} connections were not resumed", file=sys.stderr)
print(f"{total / seconds:.0f} - - {fresh if mode == '-reuse' and fresh > len(files) else 0} 0")
PY
}

rows=$WORK/rows
: >"$rows"
typec=$(cat "$KG_BENCH_DIR/keys/typec_key")
targets=("keygate $KG_PORT $KG_TLS_PORT" "nginx $NGINX_TLS_PORT $NGINX_HTTPS_PORT")
say "warming up"
for target in "${targets[@]}"; do
  read -r name plain https <<<"$target"
  "$PEERS" run "$plain" "$valid" 50 2s >/dev/null
  SCHEME=https "$PEERS" run "$https" "$valid" 50 2s >/dev/null
done
say "REPS=$REPS DURATION=$DURATION CONCS=\"$CONCS\" H2_CONNS=$H2_CONNS S_TIME_CLIENTS=$S_TIME_CLIENTS"
for rep in $(seq "$REPS"); do
  for case in plain tls h2 full resumed; do
    for conc in $CONCS; do
      case $case in h2 | full | resumed) [ "$conc" = "${CONCS%% *}" ] || continue ;; esac
      for i in 0 1; do
        read -r name plain https <<<"${targets[$(((i + rep) % 2))]}"
        case $case in
          plain) result=$("$PEERS" run "$plain" "$valid" "$conc") ;;
          tls) result=$(SCHEME=https "$PEERS" run "$https" "$valid" "$conc") ;;
          h2) conc=$H2_CONNS result=$(h2 "$https") ;;
          full) conc=$S_TIME_CLIENTS result=$(handshakes "$https" -new) ;;
          resumed) conc=$S_TIME_CLIENTS result=$(handshakes "$https" -reuse) ;;
        esac
        echo "$name $case $conc $result" >>"$rows"
        say "$name $case $conc: $result"
        [ "$(echo "$result" | cut -d' ' -f4)" = 0 ] ||
          die "$name $case: answers other than 2xx, errors or connections not resumed"
      done
    done
  done
done
# The type-C key must still be refused over each protocol: the job is the same.
for target in "${targets[@]}"; do
  read -r name plain https <<<"$target"
  [ "$(status https "$https" "$typec")" = 403 ] || die "$name did not refuse the type-C key over TLS"
done

python3 - "$rows" "$WORK/negotiated" <<'PY'
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
for line in open(sys.argv[1]):
    name, case, conns, rate, p50, p99, bad, errors = line.split()
    runs[(case, int(conns), name)].append((float(rate), p50, p99, int(bad) + int(errors)))

order = {"plain": 0, "tls": 1, "h2": 2, "full": 3, "resumed": 4}
what = {
    "plain": "HTTP/1.1 keep-alive, requests/s",
    "tls": "TLS keep-alive (HTTP/1.1), requests/s",
    "h2": "HTTP/2 over TLS, 10 streams/conn, requests/s",
    "full": "new connections, full handshake, conns/s",
    "resumed": "new connections, resumed, conns/s",
}


def median(values, column):
    picked = [float(v[column]) for v in values if v[column] != "-"]
    return statistics.median(picked) if picked else None


print("| case | conns | keygate | nginx | keygate / nginx | keygate p99 ms | nginx p99 ms | failed |")
print("|---|---|---|---|---|---|---|---|")
for case, conns in sorted({(c, n) for c, n, _ in runs}, key=lambda k: (order[k[0]], k[1])):
    kg, ng = runs[(case, conns, "keygate")], runs[(case, conns, "nginx")]
    kg_rate, ng_rate = median(kg, 0), median(ng, 0)
    kg_p99, ng_p99 = median(kg, 2), median(ng, 2)
    failed = max(v[3] for v in kg + ng)
    p99 = (f"{kg_p99:.2f} | {ng_p99:.2f}") if kg_p99 is not None else "- | -"
    print(f"| {what[case]} | {conns} | {kg_rate:,.0f} | {ng_rate:,.0f} | {kg_rate / ng_rate:.2f} "
          f"| {p99} | {failed} |")
print()
for line in open(sys.argv[2]):
    print(f"- {line.strip()}")
PY
