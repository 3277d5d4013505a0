#!/usr/bin/env bash
# The files that make purser-server a Debian service, checked against the
# built server:
#   tests/integration/service_files_test.sh <source dir> <purser-server>
# - the systemd unit passes `systemd-analyze verify` with nothing to say, and
#   its exposure (`systemd-analyze security`) stays at most 2.5 ("OK");
# - the packaged configuration names every flag of `purser-server --help`,
#   and with every line uncommented it is a configuration the server starts with.
set -euo pipefail
[[ $# -eq 2 && -d $1 && -x $2 ]] || { echo "usage: service_files_test.sh <source dir> <purser-server>" >&2; exit 2; }
SRC=$1
SERVER=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
fail() { echo "service_files_test.sh: FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (scripts/setup.sh installs systemd)"
work=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT

# The unit as installed, its program pointing at the one built (the build
# machine has no /usr/bin/purser-server).
sed "s|/usr/bin/purser-server|$SERVER|" "$SRC/deploy/systemd/purser-server.service" \
  >"$work/purser-server.service"
grep -q "^ExecStart=$SERVER --config=/etc/purser/purser-server.conf$" "$work/purser-server.service" ||
  fail "ExecStart is not /usr/bin/purser-server --config=/etc/purser/purser-server.conf"
out=$(systemd-analyze verify "$work/purser-server.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify has warnings: $out"
systemd-analyze security --offline=yes --threshold=25 "$work/purser-server.service" \
  >"$work/security.txt" 2>&1 || { cat "$work/security.txt"; fail "exposure above 2.5"; }
echo "unit: verify clean; $(grep -o 'Overall exposure level.*' "$work/security.txt")"

# Every flag of the server is listed in the configuration file.
CONF=$SRC/deploy/purser-server.conf
help=$("$SERVER" --help || true)  # Abseil's --help exits 1
flags=$(echo "$help" | grep -o '^    --[a-z0-9_]*' | sed 's/^ *--//' | grep -vx config)
[ "$(echo "$flags" | wc -l)" -ge 10 ] || fail "purser-server --help lists too few flags: $flags"
missing=()
for f in $flags; do grep -Eq "^#? ?$f =" "$CONF" || missing+=("$f"); done
[ ${#missing[@]} -eq 0 ] || fail "$CONF does not list: ${missing[*]}"
echo "configuration: lists all $(echo "$flags" | wc -l) flags"

# Uncommented, the file is accepted (keys known, values valid) and the server
# starts with it; the command line overrides where this test must.
sed -E 's/^# ?([a-z0-9_]+ =)/\1/' "$CONF" >"$work/all.conf"
"$SERVER" --config="$work/all.conf" --data_dir="$work/data" --plans_dir="$SRC/deploy/plans" \
  --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 --port_file="$work/port" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/server.log"; fail "the server did not start with $CONF uncommented"; }
kill "$server_pid"
wait "$server_pid" || fail "the server exited $? on SIGTERM"
server_pid=
echo "configuration: the server starts with every line uncommented"
echo "service_files_test.sh: passed"
