#!/usr/bin/env bash
# Requests/s and latency with the valid keys spread over the whole key set: each request
# carries the next key of the set (bench/spread_keys.lua), so a gateway's key index is
# read all over, as under load from many clients. bench/run.sh (through the peers'
# script) sends one key per run, which stays in the CPU's caches whatever the index's
# size; this shows what a large index costs.
#
#   bench/spread_keys.sh keygate=8080:10k keygate-1m=8081:1m nginx=9080:10k nginx-1m=9081:1m
#
# Each target is NAME=PORT:SET, SET being 10k or 1m: the valid keys (client types A and B)
# of `keys-<SET>.txt` from `bench/peers/peers.sh setup`. The gateways must already
# run on 127.0.0.1 (`peers.sh start` for nginx; bench/run.sh's or your own keygate). Runs
# are interleaved (every target once per round), REPS rounds of DURATION at each of
# CONCS; the table gives medians, and each target's 1M figure against its 10k one when
# the names differ only by `-1m`.
#
# Environment (defaults in brackets):
#   REPS [3]  DURATION [10s]  CONCS ["50 200"]
#   KG_BENCH_DIR [${TMPDIR:-/tmp}/keygate-bench]   where peers.sh put the key sets
set -euo pipefail

REPS=${REPS:-3}
DURATION=${DURATION:-10s}
CONCS=${CONCS:-50 200}
KG_BENCH_DIR=${KG_BENCH_DIR:-${TMPDIR:-/tmp}/keygate-bench}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$KG_BENCH_DIR/spread
[ $# -gt 0 ] || { sed -n '2,20p' "$0" >&2; exit 2; }
mkdir -p "$WORK"

say() { printf '[spread %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# The valid keys of each set, once.
for set in 10k 1m; do
  src=$KG_BENCH_DIR/keys/keys-$set.txt
  out=$WORK/valid-$set.txt
  [ -s "$src" ] || { say "no $src: run bench/peers/peers.sh setup"; exit 1; }
  if [ ! -s "$out" ] || [ "$src" -nt "$out" ]; then
    awk '$3 == "A" || $3 == "B" {print $1}' "$src" >"$out"
  fi
done

declare -a NAMES PORTS SETS
for target in "$@"; do
  name=${target%%=*} rest=${target#*=}
  port=${rest%%:*} set=${rest#*:}
  case "$set" in 10k|1m) ;; *) say "$target: the set must be 10k or 1m"; exit 2 ;; esac
  [[ "$port" =~ ^[0-9]+$ ]] || { say "$target: not a port"; exit 2; }
  NAMES+=("$name") PORTS+=("$port") SETS+=("$set")
done

# One wrk run: prints "rps p50_ms p99_ms non2xx".
run() {
  local out
  out=$(KEYS_FILE="$WORK/valid-$3.txt" timeout 120 wrk -t1 -c"$2" -d"$DURATION" --latency \
    -s "$HERE/spread_keys.lua" "http://127.0.0.1:$1/" 2>&1)
  python3 - "$out" <<'PY'
import re, sys
t = sys.argv[1]
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v); x = float(m.group(1))
    return {"us": x / 1000, "ms": x, "s": x * 1000}[m.group(2)]
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", t, re.M))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if not rps or "50" not in lat or "99" not in lat:
    print("0 0 0 wrk-failed"); sys.exit()
print(f"{float(rps.group(1)):.0f} {ms(lat['50']):.3f} {ms(lat['99']):.3f} {bad.group(1) if bad else 0}")
PY
}

RESULTS=$WORK/results-$(date +%Y%m%d-%H%M%S).txt
: >"$RESULTS"
for conc in $CONCS; do
  for rep in $(seq 1 "$REPS"); do
    for i in "${!NAMES[@]}"; do
      line=$(run "${PORTS[$i]}" "$conc" "${SETS[$i]}")
      say "${NAMES[$i]} c=$conc rep=$rep: $line"
      echo "${NAMES[$i]} $conc $line" >>"$RESULTS"
    done
  done
done

python3 - "$RESULTS" "${NAMES[@]}" <<'PY'
import statistics, sys
path, names = sys.argv[1], sys.argv[2:]
runs = {}
for line in open(path):
    name, conc, rps, p50, p99, bad = line.split()
    runs.setdefault((name, int(conc)), []).append((float(rps), float(p50), float(p99), bad))
print("| gateway | conns | runs | rps median | p50 ms | p99 ms | non-2xx | 1M / 10k |")
print("|---|---|---|---|---|---|---|---|")
for (name, conc), rs in sorted(runs.items(), key=lambda kv: (kv[0][1], names.index(kv[0][0]))):
    med = lambda k: statistics.median(r[k] for r in rs)
    bad = ",".join(sorted({r[3] for r in rs}))
    ratio = ""
    if name.endswith("-1m") and (name[:-3], conc) in runs:
        small = statistics.median(r[0] for r in runs[(name[:-3], conc)])
        ratio = f"{med(0) / small:.2f}" if small else ""
    print(f"| {name} | {conc} | {len(rs)} | {med(0):,.0f} | {med(1):.2f} | {med(2):.2f} | {bad} | {ratio} |")
PY
