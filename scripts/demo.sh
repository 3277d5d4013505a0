#!/usr/bin/env bash
# The main job: build, start a server on SQLite, enroll simulated endpoints of
# five OSes, onboard them with the default plan, and show where each stands.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
DEMO=${DEMO_DIR:-demo-run}
rm -rf "$DEMO"; mkdir -p "$DEMO/agents"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

build/purser-server --data_dir="$DEMO/server" --plans_dir=deploy/plans --listen=127.0.0.1:0 \
  --port_file="$DEMO/port" --metrics_listen=127.0.0.1:0 --metrics_port_file="$DEMO/metrics_port" \
  2>"$DEMO/server.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$DEMO/port" ] && break; sleep 0.1; done
[ -s "$DEMO/port" ] || { echo "server did not start:"; cat "$DEMO/server.log"; exit 1; }
export PURSER_SERVER="127.0.0.1:$(cat "$DEMO/port")" PURSER_CA="$DEMO/server/ca.pem" \
  PURSER_CERT="$DEMO/server/admin.pem" PURSER_KEY="$DEMO/server/admin.key"
echo "== server on $PURSER_SERVER, data in $DEMO/server, metrics at http://127.0.0.1:$(cat "$DEMO/metrics_port")/metrics"

build/purserctl token create --uses 5 --ttl 1h --labels site=demo --out "$DEMO/token"
# A stand-in workspace key: it is stored encrypted and reaches only the endpoints' jobs.
head -c 32 /dev/urandom | base64 > "$DEMO/workspace.key"
build/purserctl secret put mde-workspace-key --from_file "$DEMO/workspace.key"
# Microsoft's packages are not ours to ship: upload stand-ins under their names.
mkdir -p "$DEMO/packages"
for name in $(grep -o 'artifacts { name: "[^"]*"' deploy/plans/mde-downlevel-onboard.textproto | cut -d'"' -f2); do
  { echo "stand-in for $name"; head -c 65536 /dev/urandom; } > "$DEMO/packages/$name"
done
build/purserctl artifact upload "$DEMO"/packages/* | awk '{print "uploaded", $1}' | tr '\n' ' '; echo

for profile in win7-sp1-x64-ent win7-sp1-x86-pro win81-x64-ent win2008r2-sp1-x64 win10-x64-ent; do
  build/purser-agent --server="$PURSER_SERVER" --state_dir="$DEMO/agents/$profile" \
    --ca="$DEMO/server/ca.pem" --token_file="$DEMO/token" --executor=sim \
        --sim_profile="$profile" --sim_hostname="$profile" --sim_faults="slow_step_ms: 150" \
    2>"$DEMO/agents/$profile.log" &
  pids+=($!)
done
for _ in $(seq 100); do
  [ "$(build/purserctl endpoints list -o json | grep -c '"id"')" -ge 5 ] && break; sleep 0.2
done
echo "== enrolled"
build/purserctl endpoints list

echo "== campaign: a canary of 1, then waves of 50% and the rest, 2 at a time, pausing at 2 failures"
campaign=$(build/purserctl campaign create onboard-demo --plan mde-downlevel-onboard \
  --params workspace_id=demo-workspace-0001,workspace_key=mde-workspace-key \
  --labels site=demo --canary 1 --waves 50%,100% --max_in_flight 2 --failures 2 \
  -o json | grep -o '"id": "c-[0-9a-f]*"' | cut -d'"' -f4)
build/purserctl campaign watch "$campaign" && status=0 || status=$?
echo "== campaign watch exited $status (0 completed, 10 paused, 11 cancelled or expired)"
build/purserctl campaign get "$campaign"
echo "== after the onboarding campaign"
build/purserctl endpoints list

# And back: offboard the 8.1 machine (removes the Defender workspace from MMA).
id81=$(build/purserctl endpoints list | awk '$2 == "win81-x64-ent" {print $1}')
build/purserctl run start --plan mde-downlevel-offboard --endpoints "$id81" \
  --params workspace_id=demo-workspace-0001
for _ in $(seq 100); do
  build/purserctl endpoints get "$id81" | grep -q "state:.*OFFBOARDED" && break; sleep 0.2
done
echo "== after offboarding win81-x64-ent"
build/purserctl endpoints get "$id81"

# The same agent for real Windows 7 SP1 / 8.1 / 2008 R2 endpoints: one MSI per architecture.
echo "== for real endpoints (docs/windows.md): msiexec /i <msi> SERVER=$PURSER_SERVER CAFILE=<ca.pem> TOKENFILE=<token> /qn"
ls -1 build/windows/*.msi
