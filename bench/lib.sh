# Shared by the bench/ scripts that run keygate beside the peers (failover.sh, tls.sh,
# limits.sh, authz.sh): messages, the clean-up of what a script started, and the start of
# the peers and the build of keygate when they are needed. A script sets BENCH_NAME (its
# messages' prefix), ROOT, PEERS, KEYGATE_BIN and UPSTREAM_PORT, then sources this file,
# and adds the process id of everything it starts to PIDS.

say() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

PIDS=() STARTED_PEERS=0
# On exit, whatever the cause: every process in PIDS stopped, and the peers when this
# script started them.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  [ "$STARTED_PEERS" = 1 ] && "$PEERS" stop >/dev/null 2>&1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# answers PORT: whether something answers HTTP on 127.0.0.1:PORT.
answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/")" != 000 ]; }

# prepare: the release binary built when KEYGATE_BIN is missing; the peers set up, and
# started unless their upstream already answers (then they are left as they are).
prepare() {
  if [ ! -x "$KEYGATE_BIN" ]; then
    say "building the release binary"
    (cd "$ROOT" && cargo build --release -p keygate) || die "cargo build failed"
  fi
  "$PEERS" setup >/dev/null || die "peers.sh setup failed"
  if ! answers "$UPSTREAM_PORT"; then
    "$PEERS" start >/dev/null || die "peers.sh start failed"
    STARTED_PEERS=1
  fi
}
