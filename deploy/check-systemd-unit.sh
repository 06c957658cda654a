#!/usr/bin/env bash
# Checks deploy/keygate.service with `systemd-analyze verify`: directives, their values,
# and that ExecStart's binary and the Documentation= manual pages exist. Any warning is a
# failure (systemd itself only warns about an unknown directive, and ignores it).
#
#   deploy/check-systemd-unit.sh target/debug/keygate
#
# The unit names /usr/local/bin/keygate; the check points it at the binary given, in a
# copy, with that binary's manual pages on MANPATH. Prints a line and exits 0 when
# systemd-analyze is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."

binary="${1:?usage: deploy/check-systemd-unit.sh PATH-TO-KEYGATE}"
binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "skipped: systemd-analyze is not installed, deploy/keygate.service not verified"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/man/man1"
"$binary" man --dir "$work/man/man1" >/dev/null
sed "s|/usr/local/bin/keygate|$binary|g" deploy/keygate.service >"$work/keygate.service"

man_check=()
if ! command -v man >/dev/null 2>&1; then
  man_check=(--man=no)
fi
if ! report="$(MANPATH="$work/man" systemd-analyze verify "${man_check[@]}" "$work/keygate.service" 2>&1)"; then
  echo "$report" >&2
  echo "deploy/keygate.service: systemd-analyze verify failed" >&2
  exit 1
fi
if [[ -n "$report" ]]; then
  echo "$report" >&2
  echo "deploy/keygate.service: systemd-analyze verify warns" >&2
  exit 1
fi
echo "deploy/keygate.service: systemd-analyze verify passed"
