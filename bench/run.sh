#!/usr/bin/env bash
# keygate beside nginx and HAProxy doing the same job, on this machine, in one run.
#
#   bench/run.sh
#
# Builds the release binary (or takes KEYGATE_BIN), sets up the peer gateways
# (bench/peers/peers.sh), writes keygate's benchmark configurations (10k and 1M keys)
# from the peers' key sets — by default the 1M keys go into keygate-1m's SQLite store
# (bench/import_keys.py) and its configuration file stays small —, starts keygate with
# one worker thread on KG_PORT (10k keys) and KG_1M_PORT (1M keys), measures start-up
# time and resident memory, runs the peers' interleaved comparison, stops everything it
# started (also on failure or Ctrl-C) and writes bench/out/RESULT-<date>.md. All traffic
# stays on 127.0.0.1. See bench/README.md.
#
# Environment (defaults in brackets):
#   REPS [3], DURATION [10s], CONCS ["50 200"]   passed on to peers.sh compare
#   KG_BENCH_DIR [${TMPDIR:-/tmp}/keygate-bench] work folder (keys, configs, stores, logs)
#   KG_PORT [8080], KG_1M_PORT [8081]            keygate's proxy ports
#   KG_ADMIN_PORT [9180], KG_1M_ADMIN_PORT [9181] keygate's admin ports
#   KEYGATE_BIN [unset]                          a keygate binary to run; no cargo build then
#   KG_BENCH_KEYS [hash]                         hash: key_hash entries; plain: key entries
#   KG_BENCH_STORE [file]                        file: SQLite file in the work folder, timed
#                                                empty and filled; memory: sqlite::memory:
#                                                (keygate-1m from the store: always a file)
#   KG_BENCH_1M_FROM [store]                     store: keygate-1m's keys imported into its
#                                                SQLite store, a small configuration file;
#                                                timed without, then with the directory cache;
#                                                file: all 1M consumers in its YAML file
#   KG_BENCH_NO_ALLOW [unset]                    1: leave the route's `allow` out
#   KG_BENCH_1M [1]                              0: skip keygate and nginx with 1M keys
#   KG_BENCH_SPREAD [1]                          0: skip the runs with every valid key in
#                                                turn (bench/spread_keys.sh), after the
#                                                comparison
#   KG_BENCH_NGINX_PROBE [1]                     0: do not time nginx's start with 1M keys
#   NGINX_PROBE_PORT [9091]                      port of that timed nginx
#   KG_BENCH_START_TIMEOUT [600]                 seconds a gateway may take to start
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$ROOT/bench/peers/peers.sh
export KG_BENCH_DIR=${KG_BENCH_DIR:-${TMPDIR:-/tmp}/keygate-bench}
export REPS=${REPS:-3} DURATION=${DURATION:-10s} CONCS=${CONCS:-"50 200"}
KG_PORT=${KG_PORT:-8080} KG_1M_PORT=${KG_1M_PORT:-8081}
KG_ADMIN_PORT=${KG_ADMIN_PORT:-9180} KG_1M_ADMIN_PORT=${KG_1M_ADMIN_PORT:-9181}
KG_BENCH_KEYS=${KG_BENCH_KEYS:-hash} KG_BENCH_STORE=${KG_BENCH_STORE:-file}
KG_BENCH_1M_FROM=${KG_BENCH_1M_FROM:-store} KEYGATE_BIN=${KEYGATE_BIN:-}
KG_BENCH_NO_ALLOW=${KG_BENCH_NO_ALLOW:-}
KG_BENCH_1M=${KG_BENCH_1M:-1} KG_BENCH_NGINX_PROBE=${KG_BENCH_NGINX_PROBE:-1}
KG_BENCH_SPREAD=${KG_BENCH_SPREAD:-1}
NGINX_PROBE_PORT=${NGINX_PROBE_PORT:-9091} START_TIMEOUT=${KG_BENCH_START_TIMEOUT:-600}
UPSTREAM_PORT=${UPSTREAM_PORT:-9001} NGINX_PORT=${NGINX_PORT:-9080} HAPROXY_PORT=${HAPROXY_PORT:-9082}
NGINX_1M_PORT=${NGINX_1M_PORT:-9081}
CACHE_TIMEOUT=120   # seconds keygate-1m may take to write its directory cache
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
KG=$CARGO_TARGET_DIR/release/keygate
KEYS=$KG_BENCH_DIR/keys
WORK=$KG_BENCH_DIR/keygate
STAMP=$(date +%Y-%m-%d-%H%M%S)
OUT=$ROOT/bench/out/RESULT-$STAMP.md

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

case $KG_BENCH_KEYS in hash|plain) ;; *) die "KG_BENCH_KEYS must be hash or plain" ;; esac
case $KG_BENCH_STORE in file|memory) ;; *) die "KG_BENCH_STORE must be file or memory" ;; esac
case $KG_BENCH_1M_FROM in store|file) ;; *) die "KG_BENCH_1M_FROM must be store or file" ;; esac

# ---------------------------------------------------------------- clean-up (always)
# LOAD_RUNS_PID: the process group of the wrk runs under way (compare, then keys spread).
PIDS=() PEERS_STARTED=0 LOAD_RUNS_PID=""
stop_pid() { # pid: TERM, then KILL after 10 s
  kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
}
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  [ -n "$LOAD_RUNS_PID" ] && kill -TERM -- "-$LOAD_RUNS_PID" 2>/dev/null
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  [ "$PEERS_STARTED" = 1 ] && "$PEERS" stop
  [ "$rc" = 0 ] || say "stopped everything this run started (exit status $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers
now_ns() { date +%s%N; }
status_of() { # port [key] -> HTTP status ("000" when nothing answered)
  local h=(); [ -n "${2:-}" ] && h=(-H "apikey: $2")
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${h[@]}" "http://127.0.0.1:$1/" || true
}
port_free() { [ "$(status_of "$1")" = 000 ] && ! (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
proc_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }  # pid field
pss_kb() { awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null; }
mb() { [ -n "${1:-}" ] && awk -v k="$1" 'BEGIN { printf "%.0f MB", k / 1024 }' || echo "n/a"; }
ms() { awk -v m="$1" 'BEGIN { printf (m < 10000 ? "%d ms" : "%.1f s"), (m < 10000 ? m : m / 1000) }'; }

wait_ready() { # pid port -> prints ms from $T0 to the first 200 for a valid key, or fails
  local deadline=$(( $(now_ns) + START_TIMEOUT * 1000000000 ))
  while :; do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -H "apikey: $VALID" \
           "http://127.0.0.1:$2/")" = 200 ]; then
      echo $(( ($(now_ns) - T0) / 1000000 )); return 0
    fi
    kill -0 "$1" 2>/dev/null || return 1
    [ "$(now_ns)" -lt "$deadline" ] || return 1
    sleep 0.01
  done
}

# Results, filled in as the run goes.
declare -A NOTE LOAD_PID LOAD_ROW AFTER_LOAD
START_ROWS=()   # "| gateway | keys | start | time | RSS after start |" (rest added at the end)

# Launches keygate in folder DIR (its store and admin token live there), its output
# appended to DIR/serve.log. Sets LAUNCHED_PID, T0 (the launch time) and LOG_FROM (the
# log's length before the launch: new_log prints only this process's lines).
launch_keygate() { # dir config
  LOG_FROM=0; [ -f "$1/serve.log" ] && LOG_FROM=$(wc -l <"$1/serve.log")
  T0=$(now_ns)
  (cd "$1" && exec "$KG" serve --config "$2" --workers 1 --access-log off) >>"$1/serve.log" 2>&1 </dev/null &
  LAUNCHED_PID=$!
  PIDS+=("$LAUNCHED_PID")
}
new_log() { tail -n +"$(( LOG_FROM + 1 ))" "$1/serve.log"; }  # dir

# Starts keygate in folder DIR, times it to its first 200 and records a row. Sets
# STARTED_PID and FROM_CACHE (true/false from keygate's log; empty when it does not
# say). Fails when it does not come up.
start_keygate() { # name keys-label start-label port dir config
  local name=$1 keys=$2 what=$3 port=$4 dir=$5 cfg=$6 log=$5/serve.log
  port_free "$port" || die "port $port is in use; set KG_PORT / KG_1M_PORT"
  launch_keygate "$dir" "$cfg"
  local pid=$LAUNCHED_PID t
  if ! t=$(wait_ready "$pid" "$port"); then
    NOTE[$name]="$what: no 200 within ${START_TIMEOUT}s; last log line: $(tail -n 1 "$log" | cut -c1-200)"
    say "$name: ${NOTE[$name]}"
    START_ROWS+=("| $name (1 worker) | $keys | $what | no 200 within ${START_TIMEOUT} s | | | |")
    stop_pid "$pid"
    return 1
  fi
  local rss; rss=$(proc_kb "$pid" VmRSS)
  # keygate logs how long loading its state took and whether it read the directory cache
  # beside a SQLite store ("state loaded ... from_cache=true|false elapsed_ms=N").
  local loaded load
  loaded=$(new_log "$dir" | grep -o 'state loaded.*' | tail -n 1)
  load=$(grep -o 'elapsed_ms=[0-9]*' <<<"$loaded" | cut -d= -f2)
  FROM_CACHE=$(grep -o 'from_cache=[a-z]*' <<<"$loaded" | cut -d= -f2)
  if [ -e "$dir/keygate.db" ]; then   # a SQLite file: say whether its cache was read
    case $FROM_CACHE in
      true) what+=" (directory cache)" ;;
      false) what+=" (no directory cache)" ;;
    esac
  fi
  START_ROWS+=("| $name (1 worker) | $keys | $what | $(ms "$t")${load:+ (state loaded in $(ms "$load"))} | $(mb "$rss") |")
  say "$name: $what: pid $pid, first 200 after $t ms${load:+ (state loaded in $load ms)}, RSS $(mb "$rss")"
  STARTED_PID=$pid
}

# keygate-1m with its keys in the store (KG_BENCH_1M_FROM=store). Its configuration file
# is small; its `store:` is keygate.db in the instance's folder. A first start creates
# the schema and is stopped; bench/import_keys.py writes keys-1m.txt's consumers and
# keys into that file. keygate then starts with the store filled and no directory cache:
# it reads the whole store, then writes the cache (keygate.db.cache) in the background.
# Once its log says the cache is written (at most CACHE_TIMEOUT seconds), it is stopped
# and started again: that start reads the cache, as a node's restarts do, and serves the
# load runs. Sets STARTED_PID; fails when a step fails (NOTE says which).
start_from_store() { # name keys-label port admin-port dir config
  local name=$1 keys=$2 port=$3 admin=$4 dir=$5 cfg=$6 db=$5/keygate.db pid deadline t0 line
  port_free "$port" || die "port $port is in use; set KG_PORT / KG_1M_PORT"
  say "$name: a first start with an empty store, to create the schema"
  launch_keygate "$dir" "$cfg"
  pid=$LAUNCHED_PID deadline=$(( $(now_ns) + START_TIMEOUT * 1000000000 ))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$admin/readyz")" = 200 ]; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$(now_ns)" -ge "$deadline" ]; then
      NOTE[$name]="the start that creates the store's schema was not ready within ${START_TIMEOUT}s; last log line: $(tail -n 1 "$dir/serve.log" | cut -c1-200)"
      say "$name: ${NOTE[$name]}"
      stop_pid "$pid"
      return 1
    fi
    sleep 0.05
  done
  stop_pid "$pid"
  rm -f "$db.cache"   # the cache of the empty store; the import would make it stale anyway
  if [ ! -s "$db" ]; then
    NOTE[$name]="no store file after the start that creates the schema"
    say "$name: ${NOTE[$name]}"
    return 1
  fi
  say "$name: importing keys-1m.txt into its store with bench/import_keys.py (about 20 s)"
  t0=$(now_ns)
  if ! python3 "$ROOT/bench/import_keys.py" "$KEYS/keys-1m.txt" "$db" 0 0 >"$dir/import.log" 2>&1; then
    NOTE[$name]="bench/import_keys.py failed: $(tail -n 1 "$dir/import.log" | cut -c1-200)"
    say "$name: ${NOTE[$name]}"
    return 1
  fi
  IMPORT_TEXT="imported with \`bench/import_keys.py\` in $(ms $(( ($(now_ns) - t0) / 1000000 ))) (store file $(mb $(( $(stat -c %s "$db") / 1024 ))))"
  say "$name: $IMPORT_TEXT"
  start_keygate "$name" "$keys" "first start, store filled" "$port" "$dir" "$cfg" || return 1
  pid=$STARTED_PID
  if [ "$FROM_CACHE" = false ]; then
    say "$name: waiting for the directory cache to be written (at most ${CACHE_TIMEOUT}s)"
    deadline=$(( $(now_ns) + CACHE_TIMEOUT * 1000000000 ))
    until new_log "$dir" | grep -q 'directory cache written\|could not write the directory cache'; do
      if ! kill -0 "$pid" 2>/dev/null || [ "$(now_ns)" -ge "$deadline" ]; then break; fi
      sleep 0.1
    done
    line=$(new_log "$dir" | grep -o 'directory cache written.*\|could not write the directory cache.*' | head -n 1)
    case $line in
      "directory cache written"*)
        CACHE_TEXT="written in the background after that start in $(ms "$(grep -o 'elapsed_ms=[0-9]*' <<<"$line" | cut -d= -f2)") (keygate's log), $(mb $(( $(stat -c %s "$db.cache" 2>/dev/null || echo 0) / 1024 )))" ;;
      "") CACHE_TEXT="not written within ${CACHE_TIMEOUT} s of that start" ;;
      *) CACHE_TEXT="not written: $(cut -c1-200 <<<"$line")" ;;
    esac
    say "$name: directory cache $CACHE_TEXT"
  fi
  stop_pid "$pid"
  start_keygate "$name" "$keys" "restart" "$port" "$dir" "$cfg"
}

# ---------------------------------------------------------------- 1. build
[ -x "$PEERS" ] || die "bench/peers/peers.sh is missing or not executable"
if [ -n "$KEYGATE_BIN" ]; then
  # Made absolute: keygate runs in each instance's folder.
  case $KEYGATE_BIN in
    */*) KG=$(cd "$(dirname "$KEYGATE_BIN")" 2>/dev/null && pwd)/${KEYGATE_BIN##*/} ;;
    *) KG=$(command -v "$KEYGATE_BIN") ;;
  esac
  if [ ! -f "$KG" ] || [ ! -x "$KG" ]; then die "KEYGATE_BIN is not an executable file: $KEYGATE_BIN"; fi
  say "using the keygate binary in KEYGATE_BIN ($("$KG" --version 2>/dev/null)); not building"
else
  say "building the release binary"
  (cd "$ROOT" && cargo build --release -p keygate) || die "cargo build failed"
fi

# ---------------------------------------------------------------- 2. peers: setup
say "peers: setup (nginx, haproxy, wrk; key sets)"
"$PEERS" setup || die "peers.sh setup failed"
VALID=$(cat "$KEYS/valid_key") INVALID=$(cat "$KEYS/invalid_key") TYPEC=$(cat "$KEYS/typec_key")

# ---------------------------------------------------------------- 3. keygate configs
mkdir -p "$WORK"
ALLOW=on; [ -n "$KG_BENCH_NO_ALLOW" ] && [ "$KG_BENCH_NO_ALLOW" != 0 ] && ALLOW=off
SETS=(10k); [ "$KG_BENCH_1M" = 1 ] && SETS+=(1m)
declare -A CFG VALIDATE_MSG
IMPORT_TEXT="" CACHE_TEXT=""
declare -A PORT_OF=([10k]=$KG_PORT [1m]=$KG_1M_PORT) ADMIN_OF=([10k]=$KG_ADMIN_PORT [1m]=$KG_1M_ADMIN_PORT)
declare -A NAME_OF=([10k]=keygate [1m]=keygate-1m) LABEL_OF=([10k]=10k [1m]=1M)
# `store` and `admin` are written only when this keygate knows them (older builds do not).
NEW_FIELDS=1
gen() { # set
  local a=("$KEYS/keys-$1.txt" "${CFG[$1]}" "${PORT_OF[$1]}")
  [ "$KG_BENCH_KEYS" = plain ] && a+=(--plain)
  [ "$ALLOW" = off ] && a+=(--no-allow)
  if [ "$NEW_FIELDS" = 1 ]; then
    a+=(--admin-listen "127.0.0.1:${ADMIN_OF[$1]}")
    if from_store "$1"; then
      a+=(--no-consumers --store "sqlite://$WORK/${NAME_OF[$1]}/keygate.db")
    elif [ "$KG_BENCH_STORE" = memory ]; then
      a+=(--store "sqlite::memory:")
    fi
  fi
  a+=(--upstream "http://127.0.0.1:$UPSTREAM_PORT")
  python3 "$ROOT/bench/gen_config.py" "${a[@]}"
}
from_store() { [ "$1" = 1m ] && [ "$KG_BENCH_1M_FROM" = store ]; }  # set
no_store() { # set: records that this keygate cannot take its keys from the store
  VALIDATE_MSG[$1]="this keygate has no \`store\` setting"
  NOTE[${NAME_OF[$1]}]="not run: this keygate has no \`store\` setting, so its 1M keys cannot be in the store (KG_BENCH_1M_FROM=file puts them in its configuration file)"
  say "${NAME_OF[$1]}: ${NOTE[${NAME_OF[$1]}]}"
}
for s in "${SETS[@]}"; do
  CFG[$s]=$WORK/keygate-$s.yaml
  if from_store "$s" && [ "$NEW_FIELDS" = 0 ]; then no_store "$s"; continue; fi
  if from_store "$s"; then
    say "writing ${CFG[$s]##*/} (no consumers: the keys go into the store; allow $ALLOW)"
  else
    say "writing ${CFG[$s]##*/} ($KG_BENCH_KEYS keys, allow $ALLOW)"
  fi
  gen "$s" || die "could not write the $s configuration"
  msg=$(cd "$WORK" && "$KG" validate "${CFG[$s]}" 2>&1); rc=$?
  if [ $rc -ne 0 ] && printf '%s' "$msg" | grep -q 'unknown field `\(admin\|store\)`'; then
    say "this keygate has no \`store\`/\`admin\` settings; writing the configurations without them"
    NEW_FIELDS=0
    if from_store "$s"; then no_store "$s"; continue; fi
    gen "$s" || die "could not write the $s configuration"
    msg=$(cd "$WORK" && "$KG" validate "${CFG[$s]}" 2>&1); rc=$?
  fi
  if [ $rc -eq 0 ]; then
    VALIDATE_MSG[$s]=ok
  else
    VALIDATE_MSG[$s]=$(printf '%s\n' "$msg" | head -n 1 | sed "s|$WORK/||g")
    say "keygate validate rejected the $s configuration: ${VALIDATE_MSG[$s]}"
    if printf '%s' "$msg" | grep -q 'unknown field `allow`'; then
      die "this keygate has no route \`allow\` yet; run with KG_BENCH_NO_ALLOW=1 to measure without it"
    fi
    [ "$s" = 10k ] && die "the 10k configuration must load"
    NOTE[keygate-1m]="not run: \`keygate validate\` rejected the 1M-key configuration: ${VALIDATE_MSG[$s]}"
    case ${VALIDATE_MSG[$s]} in *"budget breached"*)
      NOTE[keygate-1m]+=" (the YAML reader's default limits — 250,000 nodes, 1,000,000 events, 64 MiB of scalars — stop the file; 1M consumers need about 10 nodes each)" ;;
    esac
  fi
done
STORE_TEXT=$([ "$NEW_FIELDS" = 0 ] && echo "none (this keygate has no store)" ||
  { [ "$KG_BENCH_STORE" = memory ] && echo '`sqlite::memory:`' || echo 'the default SQLite file, in a fresh folder per instance'; })
if [ "$KG_BENCH_1M" = 1 ] && [ "${VALIDATE_MSG[1m]:-}" = ok ]; then
  if from_store 1m; then
    ONE_M_TEXT="keygate-1m: a small configuration file with no consumers and \`store:\` a SQLite file \`keygate.db\` in a fresh folder, into which the 1M consumers and keys of \`keys-1m.txt\` are imported (\`key_hash\`es)"
  else
    ONE_M_TEXT="keygate-1m: its 1M consumers and keys in its configuration file ($(mb $(( $(stat -c %s "${CFG[1m]}") / 1024 ))))"
  fi
fi

# ---------------------------------------------------------------- 5a. peers: start
# The peers start first: keygate is ready when it proxies a valid key's call (200),
# which needs the upstream.
# Peers that were already running are left running at the end (someone else's).
PEERS_WERE_RUNNING=0
for p in "$UPSTREAM_PORT" "$NGINX_PORT" "$HAPROXY_PORT" "$NGINX_1M_PORT"; do
  port_free "$p" || { PEERS_WERE_RUNNING=1; say "port $p already answers; peers.sh start keeps what is running, and this run will not stop it"; }
done
say "peers: start"
[ "$PEERS_WERE_RUNNING" = 0 ] && PEERS_STARTED=1
"$PEERS" start || die "peers.sh start failed"

# ---------------------------------------------------------------- nginx, 1M keys, timed
# peers.sh does not report how long nginx takes to load 1M keys, so a copy of its
# 1M configuration is started here on NGINX_PROBE_PORT, timed the same way as keygate,
# measured and stopped again before the load runs.
if [ "$KG_BENCH_1M" = 1 ] && [ "$KG_BENCH_NGINX_PROBE" = 1 ]; then
  src=$KG_BENCH_DIR/run/nginx-1m/nginx.conf probe=$WORK/nginx-1m-probe
  if [ -s "$src" ] && port_free "$NGINX_PROBE_PORT"; then
    mkdir -p "$probe/logs"
    sed "s/listen 127.0.0.1:$NGINX_1M_PORT /listen 127.0.0.1:$NGINX_PROBE_PORT /" "$src" >"$probe/nginx.conf"
    say "nginx with 1M keys: timing a copy on port $NGINX_PROBE_PORT"
    T0=$(now_ns)
    nginx -p "$probe/" -c "$probe/nginx.conf" -g 'daemon off;' >"$probe/out.log" 2>&1 </dev/null &
    npid=$!
    PIDS+=("$npid")
    if t=$(wait_ready "$npid" "$NGINX_PROBE_PORT"); then
      wpid=$(pgrep -P "$npid" | head -n 1)
      m=$(proc_kb "$npid" VmRSS) w=$(proc_kb "$wpid" VmRSS)
      pss=$(( $(pss_kb "$npid" || echo 0) + $(pss_kb "$wpid" || echo 0) ))
      START_ROWS+=("| nginx (1 worker) | 1M | start | $(ms "$t") | master $(mb "$m"), worker $(mb "$w"); PSS of both $(mb "$pss") | stopped before the load runs | |")
      say "nginx-1m: first 200 after $t ms, master RSS $(mb "$m"), worker RSS $(mb "$w")"
    else
      START_ROWS+=("| nginx (1 worker) | 1M | start | no 200 within ${START_TIMEOUT} s | | | |")
    fi
    stop_pid "$npid"
  else
    say "nginx with 1M keys: not timed (no rendered configuration, or port $NGINX_PROBE_PORT in use)"
  fi
fi

# ---------------------------------------------------------------- 4. keygate: start
# With the file store, each instance starts twice in a fresh folder: first with an empty
# store (keygate writes every consumer and key of its file into it), then again with the
# store already holding them — the usual restart. The second process serves the load
# runs. keygate-1m with its keys in the store starts as start_from_store says.
TARGETS=()
for s in "${SETS[@]}"; do
  n=${NAME_OF[$s]}
  [ "${VALIDATE_MSG[$s]}" = ok ] || continue
  port_free "${ADMIN_OF[$s]}" || die "admin port ${ADMIN_OF[$s]} is in use; set KG_ADMIN_PORT / KG_1M_ADMIN_PORT"
  dir=$WORK/$n
  rm -rf "$dir" && mkdir -p "$dir"
  say "$n: starting with ${LABEL_OF[$s]} keys on port ${PORT_OF[$s]} (1 worker thread)"
  ok=0
  if from_store "$s"; then
    start_from_store "$n" "${LABEL_OF[$s]}" "${PORT_OF[$s]}" "${ADMIN_OF[$s]}" "$dir" "${CFG[$s]}" && ok=1
  elif [ "$NEW_FIELDS" = 1 ] && [ "$KG_BENCH_STORE" = file ]; then
    if start_keygate "$n" "${LABEL_OF[$s]}" "first start, empty store" "${PORT_OF[$s]}" "$dir" "${CFG[$s]}"; then
      stop_pid "$STARTED_PID"
      start_keygate "$n" "${LABEL_OF[$s]}" "restart, store filled" "${PORT_OF[$s]}" "$dir" "${CFG[$s]}" && ok=1
    fi
  else
    start_keygate "$n" "${LABEL_OF[$s]}" "start" "${PORT_OF[$s]}" "$dir" "${CFG[$s]}" && ok=1
  fi
  if [ "$ok" = 1 ]; then
    TARGETS+=("$n=${PORT_OF[$s]}")
    LOAD_PID[$n]=$STARTED_PID
    LOAD_ROW[$n]=$(( ${#START_ROWS[@]} - 1 ))
  else
    [ "$s" = 10k ] && die "keygate with 10k keys did not start; see its log in the work folder"
  fi
done

# Status codes of every gateway for the four kinds of call, before any load.
say "checking answers (no key, valid, unknown, type C)"
CHECK_ROWS=()
for t in "${TARGETS[@]}" "nginx=$NGINX_PORT" "nginx-1m=$NGINX_1M_PORT" "haproxy=$HAPROXY_PORT"; do
  p=${t#*=}
  CHECK_ROWS+=("| ${t%%=*} | $(status_of "$p") | $(status_of "$p" "$VALID") | $(status_of "$p" "$INVALID") | $(status_of "$p" "$TYPEC") |")
done
printf '%s\n' "${CHECK_ROWS[@]}" >&2

# ---------------------------------------------------------------- 5b. compare
n_targets=$(( ${#TARGETS[@]} + 2 ))
n_concs=$(wc -w <<<"$CONCS")
secs=$(python3 -c "import re,sys; m=re.fullmatch(r'(\d+)(s|m|h)?', sys.argv[1]); print(int(m.group(1))*{'s':1,'m':60,'h':3600,None:1}[m.group(2)])" "$DURATION" 2>/dev/null || echo 10)
est=$(( n_targets * 2 + REPS * n_concs * 3 * n_targets * (secs + 1) ))
say "peers: compare ${TARGETS[*]} (REPS=$REPS DURATION=$DURATION CONCS=\"$CONCS\"; about $(( (est + 59) / 60 )) min)"
# In its own process group, so that a signal to this script ends its wrk runs too.
setsid "$PEERS" compare "${TARGETS[@]}" >"$WORK/compare.out" 2>"$WORK/compare.err" </dev/null &
LOAD_RUNS_PID=$!
wait "$LOAD_RUNS_PID" || die "peers.sh compare failed: $(tail -n 3 "$WORK/compare.err" | tr '\n' ' ')"
LOAD_RUNS_PID=""
TABLE=$(cat "$WORK/compare.out")
printf '%s\n' "$TABLE"

# Memory after the load, added to the row of the process that served it; the other
# keygate rows (processes stopped before the load) get empty cells.
for t in "${TARGETS[@]}"; do
  n=${t%%=*}; pid=${LOAD_PID[$n]}
  if kill -0 "$pid" 2>/dev/null; then
    AFTER_LOAD[${LOAD_ROW[$n]}]=" $(mb "$(proc_kb "$pid" VmRSS)") | $(mb "$(proc_kb "$pid" VmHWM)") |"
  else
    AFTER_LOAD[${LOAD_ROW[$n]}]=" exited during the load runs | |"
    NOTE[$n]="exited during the load runs; last log line: $(tail -n 1 "$WORK/$n/serve.log" | cut -c1-200)"
    say "$n: ${NOTE[$n]}"
  fi
done
for i in "${!START_ROWS[@]}"; do
  [ "$(tr -cd '|' <<<"${START_ROWS[$i]}" | wc -c)" -eq 6 ] || continue   # row already complete
  START_ROWS[$i]+=${AFTER_LOAD[$i]:- | |}
done

# ---------------------------------------------------------------- 5c. keys spread
# The same gateways with every valid key of their set in turn (bench/spread_keys.sh):
# one key per run, as above, stays in the CPU's caches however large the index.
SPREAD_TABLE=""
if [ "$KG_BENCH_SPREAD" = 1 ]; then
  spread_targets=()
  for t in "${TARGETS[@]}"; do
    n=${t%%=*}
    kill -0 "${LOAD_PID[$n]}" 2>/dev/null || continue
    spread_targets+=("$n=${t#*=}:$([ "$n" = keygate-1m ] && echo 1m || echo 10k)")
  done
  spread_targets+=("nginx=$NGINX_PORT:10k")
  [ "$KG_BENCH_1M" = 1 ] && spread_targets+=("nginx-1m=$NGINX_1M_PORT:1m")
  say "keys spread: ${spread_targets[*]} (REPS=$REPS DURATION=$DURATION CONCS=\"$CONCS\")"
  setsid "$ROOT/bench/spread_keys.sh" "${spread_targets[@]}" >"$WORK/spread.out" 2>"$WORK/spread.err" </dev/null &
  LOAD_RUNS_PID=$!
  if wait "$LOAD_RUNS_PID"; then
    SPREAD_TABLE=$(cat "$WORK/spread.out")
    printf '%s\n' "$SPREAD_TABLE"
  else
    SPREAD_TABLE="spread_keys.sh failed: $(tail -n 3 "$WORK/spread.err" | tr '\n' ' ')"
    say "$SPREAD_TABLE"
  fi
  LOAD_RUNS_PID=""
fi

# ---------------------------------------------------------------- 7. result
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null | wc -l)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
mkdir -p "$ROOT/bench/out"
{
  echo "## keygate beside nginx and HAProxy, $(date '+%Y-%m-%d %H:%M %Z')"
  echo
  echo "- Machine: $(nproc) cores, ${cpu:-unknown CPU}, $mem memory; wrk, the gateways and the upstream share it"
  echo "- keygate commit $commit$([ "$dirty" -gt 0 ] && echo " (plus $dirty locally modified tracked files)")"
  [ -n "$KEYGATE_BIN" ] && echo "- keygate binary: given in \`KEYGATE_BIN\` ($("$KG" --version 2>/dev/null)), not built by this run; it may not match the commit"
  echo "- Every gateway runs one worker (keygate: \`--workers 1 --access-log off\`); nothing is pinned to a core"
  echo "- Runs: REPS=$REPS, DURATION=$DURATION, CONCS=\"$CONCS\"; interleaved, medians; ratios are to nginx with 10k keys"
  echo "- keygate configuration: keys as $([ "$KG_BENCH_KEYS" = plain ] && echo 'plaintext `key:`' || echo '`key_hash: sha256:…`'), key from the \`apikey\` header only, route \`allow\` $ALLOW; store: $STORE_TEXT"
  [ -n "${ONE_M_TEXT:-}" ] && echo "- $ONE_M_TEXT"
  [ -n "$IMPORT_TEXT" ] && echo "- keygate-1m's store: $IMPORT_TEXT, after a first start created the schema"
  [ -n "$CACHE_TEXT" ] && echo "- keygate-1m's directory cache (\`keygate.db.cache\`): $CACHE_TEXT"
  echo
  echo "### Throughput and latency"
  echo
  printf '%s\n' "$TABLE"
  echo
  if [ -n "$SPREAD_TABLE" ]; then
    echo "### Keys spread over the whole set"
    echo
    echo "Every valid key (client type A or B) of the gateway's set in turn (bench/spread_keys.sh),"
    echo "same REPS, DURATION and CONCS, interleaved, medians; 1M / 10k: the 1M gateway against its"
    echo "10k twin."
    echo
    printf '%s\n' "$SPREAD_TABLE"
    echo
  fi
  echo "### Start-up and memory"
  echo
  echo "Start: from launching the process to its first 200 for a valid key (curl every ~10 ms);"
  echo "for keygate, the time its log gives for loading its state is in brackets."
  echo "(directory cache) / (no directory cache): whether that keygate start read its directory"
  echo "cache (\`keygate.db.cache\`, beside the SQLite file) or the whole store (keygate's log, \`from_cache\`)."
  echo "RSS: VmRSS after start-up and after the load runs; peak: VmHWM after the load runs."
  echo
  echo "| gateway | keys | start | start to first 200 | RSS after start | RSS after load | peak RSS |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${START_ROWS[@]}"
  [ -n "${NOTE[keygate-1m]:-}" ] && [ "${VALIDATE_MSG[1m]:-ok}" != ok ] &&
    echo "| keygate-1m (1 worker) | 1M | ${NOTE[keygate-1m]} | | | | |"
  echo
  echo "### Answers before the load (HTTP status)"
  echo
  echo "| gateway | no key | valid key | unknown key | type C key |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${CHECK_ROWS[@]}"
  echo
  echo "Expected: 401, 200, 401, 403.$([ "$ALLOW" = off ] && echo " keygate ran without \`allow\`, so it lets type C keys through (200): its type C rows are not comparable.")"
  notes=()
  for n in keygate keygate-1m; do
    [ -n "${NOTE[$n]:-}" ] && { [ "$n" != keygate-1m ] || [ "${VALIDATE_MSG[1m]:-ok}" = ok ]; } && notes+=("- $n: ${NOTE[$n]}")
  done
  if [ ${#notes[@]} -gt 0 ]; then echo; echo "### Notes"; echo; printf '%s\n' "${notes[@]}"; fi
} >"$OUT"
say "result written"
echo "$OUT"
