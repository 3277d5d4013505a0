#!/usr/bin/env bash
# Makes an upgrade fixture: the data directory of an earlier Purser, filled by
# that version's own server, purserctl and agents.
#   tests/upgrade/make_fixture.sh COMMIT OUTDIR
# Builds COMMIT under $PURSER_OLD_ROOT/COMMIT (default /tmp/purser-old, see
# build_release.sh), starts its server on a fresh data directory, enrolls
# simulated endpoints of several OSes with tokens and labels, onboards them
# (one step fails), and, where the version has them: campaigns (one completed,
# one paused), artifacts, uploaded plans (two versions), operator
# certificates (one revoked), labels, audit and history; leaves one run in
# flight (a step leased to an agent that hangs) and stops everything.
# OUTDIR receives server/ (the data directory, database vacuumed), plans/
# (the server's plans directory), agents/<hostname>/ (agent state), the
# workspace key and an unused token (inputs the test needs), COMMIT and
# manifest.txt (rows per table and key facts, from sqlite3).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 COMMIT OUTDIR" >&2; exit 2; }
commit=$1 outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
old_root=${PURSER_OLD_ROOT:-/tmp/purser-old}
old="$old_root/$commit"
"$here/build_release.sh" "$commit" "$old"
src="$old/src" bin="$old/build"
schema=$(find "$src/db/migrations" -name '[0-9][0-9][0-9]_*.sql' -printf '%f\n' | sort | tail -1 | cut -c1-3)
ctl_src=$(cat "$src"/purserctl/*.cc)
has() { grep -qF -- "$1" <<<"$ctl_src"; }

work=$(mktemp -d /tmp/purser-fixture.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
log() { echo "make_fixture[$commit]: $*" >&2; }

mkdir -p "$work/plans" "$work/agents" "$work/packages" "$work/logs"
cp "$src"/deploy/plans/*.textproto "$work/plans/"
"$bin/purser-server" --data_dir="$work/server" --plans_dir="$work/plans" --listen=127.0.0.1:0 \
  --port_file="$work/port" 2>"$work/logs/server.log" &
server_pid=$!
pids+=("$server_pid")
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/logs/server.log" >&2; exit 1; }
port=$(cat "$work/port")
export PURSER_SERVER="127.0.0.1:$port" PURSER_CA="$work/server/ca.pem" \
  PURSER_CERT="$work/server/admin.pem" PURSER_KEY="$work/server/admin.key"
ctl() { "$bin/purserctl" "$@"; }

# Tokens: two used, one left unused for agents that enroll after the upgrade.
ctl token create --uses 20 --ttl 2160h --labels site=paris,tier=gold --out "$work/token-paris"
ctl token create --uses 5 --ttl 2160h --labels site=lyon --out "$work/token-lyon"
ctl token create --uses 10 --ttl 2160h --labels site=nantes --out "$work/token-unused"
head -c 32 /dev/urandom | base64 >"$work/workspace.key"
ctl secret put mde-workspace-key --from_file "$work/workspace.key"
echo "not the workspace key" >"$work/other.secret"
ctl secret put other-secret --from_file "$work/other.secret"
if has '"artifact"'; then
  for name in $(grep -ho 'artifacts { name: "[^"]*"' "$work"/plans/*.textproto | cut -d'"' -f2 | sort -u); do
    echo "stand-in for $name" >"$work/packages/$name"
  done
  ctl artifact upload "$work"/packages/* >/dev/null
fi

agent() {  # hostname profile token [extra flags...]
  local host=$1 profile=$2 token=$3
  shift 3
  "$bin/purser-agent" --server="$PURSER_SERVER" --state_dir="$work/agents/$host" \
    --ca="$work/server/ca.pem" --token_file="$work/$token" --executor=sim \
    --sim_profile="$profile" --sim_hostname="$host" "$@" 2>"$work/logs/$host.log" &
  pids+=($!)
}
count() { ctl endpoints list -o json | grep -c "$1" || true; }
id_of() { ctl endpoints list -o json | python3 -c "import json,sys; print([e['id'] for e in json.load(sys.stdin).get('endpoints', []) if e.get('hostname') == '$1'][0])"; }
wait_for() {  # seconds command...
  local n=$(($1 * 5))
  shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.2; done
  log "timed out waiting for: $*"
  tail -30 "$work/logs/server.log" >&2
  exit 1
}
enrolled() { [ "$(count '"hostname"')" -ge "$1" ]; }
settled() {  # no endpoint among those named is queued, in progress or waiting
  local busy
  busy=$(ctl endpoints list -o json | python3 -c "
import json,sys
names = set(sys.argv[1:])
print(sum(1 for e in json.load(sys.stdin).get('endpoints', []) if e.get('hostname') in names and
  e.get('state') in ('ENDPOINT_STATE_QUEUED', 'ENDPOINT_STATE_IN_PROGRESS', 'ENDPOINT_STATE_WAITING_REBOOT')))" "$@")
  [ "$busy" -eq 0 ]
}

agent win7-paris-01 win7-sp1-x64-ent token-paris
agent win7-paris-02 win7-sp1-x86-pro token-paris --sim_faults='failing_kbs: "KB3080149"'
agent win10-paris-01 win10-x64-ent token-paris
agent win81-lyon-01 win81-x64-ent token-lyon
agent srv2008-lyon-01 win2008r2-sp1-x64 token-lyon
wait_for 60 enrolled 5
log "5 endpoints enrolled"
p1=$(id_of win7-paris-01) p2=$(id_of win7-paris-02) p10=$(id_of win10-paris-01)
l81=$(id_of win81-lyon-01) l2008=$(id_of srv2008-lyon-01)
if has '"labels"'; then
  ctl endpoints labels "$p1" --labels rack=r1,owner=ops >/dev/null
  ctl endpoints labels "$l81" --labels rack=r7 >/dev/null
fi
params=workspace_id=fixture-workspace-0001,workspace_key=mde-workspace-key
ctl run start --plan mde-downlevel-onboard --endpoints "$p1,$p2,$p10" --params "$params"
wait_for 120 settled win7-paris-01 win7-paris-02 win10-paris-01
log "first run settled"

if has '"campaign"'; then
  ctl campaign create lyon-onboard --plan mde-downlevel-onboard --params "$params" \
    --endpoints "$l81,$l2008" --canary 1 --waves 100% --max_in_flight 2 >/dev/null
  done_id=$(ctl campaign list -o json | python3 -c "import json,sys; print([c['id'] for c in json.load(sys.stdin).get('campaigns', []) if c.get('name') == 'lyon-onboard'][0])")
  timeout 180 "$bin/purserctl" campaign watch "$done_id" >"$work/logs/campaign-watch.log" ||
    { log "campaign did not complete"; cat "$work/logs/campaign-watch.log" >&2; exit 1; }
  ctl campaign create paris-offboard --plan mde-downlevel-offboard \
    --params workspace_id=fixture-workspace-0001 --endpoints "$p1,$p10" --canary 1 --approve_canary \
    --waves 50%,100% --max_in_flight 1 >/dev/null
  held_id=$(ctl campaign list -o json | python3 -c "import json,sys; print([c['id'] for c in json.load(sys.stdin).get('campaigns', []) if c.get('name') == 'paris-offboard'][0])")
  ctl campaign pause "$held_id" >/dev/null
  log "campaigns: $done_id completed, $held_id paused"
else
  ctl run start --plan mde-downlevel-onboard --endpoints "$l81,$l2008" --params "$params"
  wait_for 120 settled win81-lyon-01 srv2008-lyon-01
fi

if has '"cert"'; then
  ctl cert issue status-script --role viewer --out "$work/viewer" >/dev/null
  serial=$(ctl cert issue old-operator --role operator --out "$work/operator" | awk '{print $2}')
  ctl cert revoke "$serial" >/dev/null
  log "operator certificate $serial revoked"
fi
if has 'plan upload'; then
  custom="$work/fixture-check.textproto"
  sed -e 's/^name: "mde-downlevel-onboard"/name: "fixture-check"/' \
    "$work/plans/mde-downlevel-onboard.textproto" >"$custom"
  ctl plan upload "$custom" >/dev/null
  sed -i -e '0,/^description: .*/s//description: "second version of the fixture plan"/' "$custom"
  ctl plan upload "$custom" >/dev/null || true
fi

# A run in flight: the first step is leased to an agent whose update hangs.
agent win7-lyon-hung win7-sp1-x64-ent token-lyon --sim_faults='hung_kbs: "KB4074598"'
wait_for 60 enrolled 6
hung=$(id_of win7-lyon-hung)
ctl run start --plan mde-downlevel-onboard --endpoints "$hung" --params "$params"
in_progress() { ctl endpoints get "$hung" -o json | grep -q '"ENDPOINT_STATE_IN_PROGRESS"'; }
wait_for 60 in_progress
sleep 2
log "run in flight on $hung"
ctl endpoints list >"$work/logs/endpoints.txt"

# Stop: agents first (the hung one is killed mid-step), then the server.
for p in "${pids[@]}"; do [ "$p" = "$server_pid" ] || kill -TERM "$p" 2>/dev/null || true; done
sleep 1
for p in "${pids[@]}"; do [ "$p" = "$server_pid" ] || kill -9 "$p" 2>/dev/null || true; done
wait_agents() { for p in "${pids[@]}"; do [ "$p" = "$server_pid" ] || wait "$p" 2>/dev/null || true; done; }
wait_agents
kill -TERM "$server_pid"
wait "$server_pid" || true
pids=()
db="$work/server/purser.db"
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE); VACUUM;" >/dev/null
rm -f "$db-wal" "$db-shm"

rm -rf "$outdir"
mkdir -p "$outdir"
cp -a "$work/server" "$outdir/"
# Plans operators uploaded (the release's own plans are in its source).
for f in "$work"/plans/*; do
  [ -e "$src/deploy/plans/$(basename "$f")" ] || { mkdir -p "$outdir/plans" && cp "$f" "$outdir/plans/"; }
done
mkdir -p "$outdir/agents"
for d in "$work"/agents/*/; do
  h=$(basename "$d")
  mkdir -p "$outdir/agents/$h"
  # An agent's state: key, certificate, journal, simulated machine (no logs).
  find "$d" -maxdepth 1 -type f -size -256k -exec cp -a {} "$outdir/agents/$h/" \;
done
cp "$work/workspace.key" "$work/token-unused" "$outdir/"
echo "$commit" >"$outdir/COMMIT"
"$here/manifest.sh" "$db" >"$outdir/manifest.txt"
log "fixture for schema $schema written to $outdir ($(du -sh "$outdir" | cut -f1))"
rm -rf "$work"
