#!/usr/bin/env bash
# Smoke test of the Windows service, its installer, the MSI and the GPO
# startup script under Wine (64-bit: wine32 is not installed):
#   deploy/windows/wine-smoke.sh <purser-agent.exe built for windows/amd64>
# It builds two MSIs from the executable (build-msi.sh), then proves: a hand
# install creates, secures and starts the service; the service logs; a
# reinstall keeps the identity; sc stop stops it cleanly; uninstall removes
# it and --purge the state; msiexec installs, upgrades (keeping the
# settings), rolls back a failed install and uninstalls; the startup script
# installs once and then stays quiet. No Purser server runs: the agent only
# tries to enroll. Exits non-zero, with the relevant output, on the first
# failure.
#
# WINEPREFIX: a prefix to use (created when missing); default a new one in a
# temporary directory, deleted at the end. A prefix initialises in 20-40 s.
set -euo pipefail

[[ $# -eq 1 && -f $1 ]] || { echo "usage: wine-smoke.sh <purser-agent.exe (windows/amd64)>" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
exe=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
for tool in wine wineboot wineserver openssl wixl msiinfo; do
  command -v $tool >/dev/null || { echo "wine-smoke.sh: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
if [[ -z ${WINEPREFIX:-} ]]; then
  export WINEPREFIX=$work/prefix
fi
export WINEDEBUG=-all
keeper=
c=$WINEPREFIX/drive_c
state=$c/ProgramData/Purser
win='C:\purser-smoke'

cleanup() {
  exec 9>&- 2>/dev/null || true # ends the keeper's pause
  wineserver -k 2>/dev/null || true # this prefix's processes only
  wineserver -w 2>/dev/null || true
  if [[ -n $keeper ]]; then wait "$keeper" 2>/dev/null || true; fi
  rm -rf "$work" "$c/purser-smoke"
}
trap cleanup EXIT

step() { echo "--- [${SECONDS}s] $*"; }
fail() {
  echo "FAIL: $*" >&2
  for f in "$state/logs/setup.log" "$state/logs/purser-agent.log" "$state/logs/purser-agent.stderr.log"; do
    [[ -f $f ]] && { echo "== ${f#"$WINEPREFIX"/}" >&2; tail -n 20 "$f" | tr -d '\r' >&2; }
  done
  exit 1
}
# run CMD...: runs a Windows program; its output (CRs removed) in $out, its
# exit code in $rc.
run() {
  rc=0
  wine "$@" >"$work/out" 2>&1 || rc=$?
  out=$(tr -d '\r' <"$work/out")
}
has() { grep -qF -- "$2" <<<"$1"; }
expect() { has "$1" "$2" || fail "$3: expected \"$2\" in:"$'\n'"$1"; }
expect_not() { ! has "$1" "$2" || fail "$3: unexpected \"$2\" in:"$'\n'"$1"; }
expect_rc() { [[ $rc == "$1" ]] || fail "$2: exit code $rc, expected $1; output:"$'\n'"$out"; }
file_has() {
  if [[ ! -f $1 ]] || ! grep -qF -- "$2" "$1"; then fail "$3: \"$2\" not in ${1#"$WINEPREFIX"/}"; fi
}

svc_query() { run sc query PurserAgent; }
# wait_state STATE SECONDS: polls sc query until the service is in STATE.
wait_state() {
  local i
  for ((i = 0; i < $2 * 4; i++)); do
    svc_query
    has "$out" "STATE" && has "$out" " $1" && return 0
    sleep 0.25
  done
  fail "service PurserAgent not $1 within $2 s; sc query said:"$'\n'"$out"
}
expect_no_service() {
  svc_query
  expect_not "$out" "SERVICE_NAME: PurserAgent" "$1"
  run reg query 'HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\PurserAgent'
  expect_not "$out" "EventMessageFile" "$1: event source still registered"
}
arp_entries() { # how many Purser Agent entries Add/Remove Programs has
  run reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s
  grep -c 'DisplayName.*Purser Agent' <<<"$out" || true
}

if [[ ! -f $WINEPREFIX/system.reg ]]; then
  step "initialising the Wine prefix $WINEPREFIX"
  wineboot --init >/dev/null 2>&1 || true
  wineserver -w # the registry files are written when it exits
  [[ -f $WINEPREFIX/system.reg ]] || fail "wineboot did not create $WINEPREFIX"
fi
# Wine stops its services when the last Windows process of the prefix
# exits: one waits on a pipe we hold open.
mkfifo "$work/keep"
wine cmd /c pause <"$work/keep" >/dev/null 2>&1 &
keeper=$!
exec 9>"$work/keep"

mkdir -p "$c/purser-smoke/share"
cp "$exe" "$c/purser-smoke/purser-agent.exe"
cp "$here/purser-startup.cmd" "$c/purser-smoke/"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=purser-ca -days 2 \
  -keyout "$work/ca.key" -out "$c/purser-smoke/ca.pem" 2>/dev/null || fail "openssl could not make a CA"
token="smoke-token-$RANDOM$RANDOM$RANDOM"
echo "$token" >"$c/purser-smoke/token.txt"
agent="$win\\purser-agent.exe"

step "building the MSIs"
"$here/build-msi.sh" "$exe" x64 0.0.1 "$c/purser-smoke/purser-agent-0.0.1.msi" >/dev/null
"$here/build-msi.sh" "$exe" x64 0.0.2 "$c/purser-smoke/purser-agent-0.0.2.msi" >/dev/null

# A reused prefix may hold an earlier run's agent.
run "$agent" uninstall --purge
wine msiexec /x "$win\\purser-agent-0.0.2.msi" /qn >/dev/null 2>&1 || true
wine msiexec /x "$win\\purser-agent-0.0.1.msi" /qn >/dev/null 2>&1 || true

step "service refuses to run outside the service control manager"
run "$agent" service
expect_rc 2 "purser-agent service from a console"
expect "$out" "not started by the service control manager" "purser-agent service from a console"

step "hand install"
run "$agent" install --server=127.0.0.1:7443 "--ca=$win\\ca.pem" "--token_file=$win\\token.txt"
expect_rc 0 "install"
for s in "copied the enrollment token" "wrote C:\\ProgramData\\Purser\\agent.conf" "event source PurserAgent registered" \
  "service PurserAgent created: \"C:\\purser-smoke\\purser-agent.exe\" service" "service PurserAgent started"; do
  expect "$out" "$s" "install"
done
wait_state RUNNING 10
file_has "$state/agent.conf" "--server=127.0.0.1:7443" "agent.conf"
file_has "$state/agent.conf" '--token_file=C:\ProgramData\Purser\enroll-token' "agent.conf"
file_has "$state/agent.conf" '--ca=C:\ProgramData\Purser\enroll-ca.pem' "agent.conf"
file_has "$state/enroll-token" "$token" "the token's copy"
cmp -s "$state/enroll-ca.pem" "$c/purser-smoke/ca.pem" || fail "enroll-ca.pem is not the CA given"
file_has "$state/logs/setup.log" "service PurserAgent started" "setup.log"
file_has "$state/logs/purser-agent.log" "service: starting: version" "the service's log"
file_has "$state/logs/purser-agent.log" "server 127.0.0.1:7443, state directory C:\\ProgramData\\Purser" "the service's log"
run reg query 'HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\PurserAgent'
expect "$out" "EventCreate.exe" "event source registration"

step "reinstall keeps the settings and the identity"
for ((i = 0; i < 40; i++)); do [[ -f $state/nonce ]] && break; sleep 0.25; done
[[ -f $state/nonce ]] || fail "the agent made no identity (nonce) in the state directory"
nonce=$(cat "$state/nonce")
run "$agent" install --proxy=none
expect_rc 0 "reinstall without flags"
expect "$out" "service PurserAgent updated" "reinstall"
expect "$out" "service PurserAgent started" "reinstall"
wait_state RUNNING 10
file_has "$state/agent.conf" "--server=127.0.0.1:7443" "agent.conf after reinstall"
[[ $(cat "$state/nonce") == "$nonce" ]] || fail "reinstall changed the agent's identity"

step "sc stop stops the service cleanly"
run sc stop PurserAgent
wait_state STOPPED 30
expect "$out" "WIN32_EXIT_CODE    : 0" "exit code after sc stop"
file_has "$state/logs/purser-agent.log" "stopped by the service control manager" "the service's log"
file_has "$state/logs/purser-agent.log" "127.0.0.1:7443" "the agent's enrollment attempt"

step "the token stays out of logs and configuration"
if grep -rqF -- "$token" "$state/logs" "$state/agent.conf"; then
  fail "the enrollment token appears in $(grep -rlF -- "$token" "$state/logs" "$state/agent.conf")"
fi

step "uninstall keeps the state, --purge deletes it"
run sc start PurserAgent
wait_state RUNNING 10
run "$agent" uninstall
expect_rc 0 "uninstall"
expect "$out" "service PurserAgent stopped and deleted" "uninstall"
expect_no_service "after uninstall"
[[ -f $state/agent.conf && -f $state/nonce ]] || fail "uninstall deleted the state directory"
run "$agent" uninstall --purge
expect_rc 0 "uninstall --purge"
[[ ! -e $state ]] || fail "uninstall --purge left $state"

step "msiexec install"
run msiexec /i "$win\\purser-agent-0.0.1.msi" SERVER=127.0.0.1:7443 "CAFILE=$win\\ca.pem" "TOKENFILE=$win\\token.txt" /qn
expect_rc 0 "msiexec /i"
wait_state RUNNING 10
[[ -f "$c/Program Files/Purser/purser-agent.exe" ]] || fail "the MSI did not install C:\\Program Files\\Purser\\purser-agent.exe"
file_has "$state/logs/setup.log" 'service PurserAgent created: "C:\Program Files\Purser\purser-agent.exe" service' "setup.log"
file_has "$state/agent.conf" "--server=127.0.0.1:7443" "agent.conf"
file_has "$state/logs/purser-agent.log" "service: starting: version" "the service's log"
nonce=$(cat "$state/nonce" 2>/dev/null || true)

step "msiexec upgrade keeps the settings"
run msiexec /i "$win\\purser-agent-0.0.2.msi" /qn
expect_rc 0 "msiexec /i of the next version"
wait_state RUNNING 10
file_has "$state/agent.conf" "--server=127.0.0.1:7443" "agent.conf after the upgrade"
[[ -z $nonce || $(cat "$state/nonce") == "$nonce" ]] || fail "the upgrade changed the agent's identity"
[[ $(arp_entries) == 1 ]] || fail "after the upgrade, $(arp_entries) Purser Agent entries in Add/Remove Programs, expected 1"

step "msiexec uninstall"
run msiexec /x "$win\\purser-agent-0.0.2.msi" /qn
expect_rc 0 "msiexec /x"
expect_no_service "after msiexec /x"
[[ ! -e "$c/Program Files/Purser/purser-agent.exe" ]] || fail "msiexec /x left purser-agent.exe"
[[ -f $state/agent.conf ]] || fail "msiexec /x deleted the state directory"
[[ $(arp_entries) == 0 ]] || fail "msiexec /x left an Add/Remove Programs entry"

step "a failed msiexec install rolls back"
run "$agent" uninstall --purge
run msiexec /i "$win\\purser-agent-0.0.1.msi" "CAFILE=$win\\ca.pem" "TOKENFILE=$win\\token.txt" /qn
[[ $rc != 0 ]] || fail "msiexec /i without SERVER succeeded"
expect_no_service "after a failed install"
[[ ! -e "$c/Program Files/Purser/purser-agent.exe" ]] || fail "the failed install left purser-agent.exe"
file_has "$state/logs/setup.log" "no control server" "setup.log of the failed install"

step "an install whose service cannot run removes the service again"
run "$agent" uninstall --purge
mkdir -p "$state"
# A simulated machine on Windows: valid flags, an agent that refuses at once.
printf -- '--executor=sim\r\n' >"$state/agent.conf"
run "$agent" install --server=127.0.0.1:7443 "--ca=$win\\ca.pem" "--token_file=$win\\token.txt"
expect_rc 1 "install of a service that stops at once"
expect "$out" "service PurserAgent stopped right after starting (agent exit code 2)" "install of a service that stops at once"
expect "$out" "service PurserAgent and event source PurserAgent removed again" "install of a service that stops at once"
expect_no_service "after an install whose service stopped"
file_has "$state/logs/purser-agent.log" "runs only on Linux" "the service's log"

step "GPO startup script installs once, then stays quiet"
run "$agent" uninstall --purge
cp "$c/purser-smoke/purser-agent-0.0.1.msi" "$c/purser-smoke/share/purser-agent-x64.msi"
cp "$c/purser-smoke/ca.pem" "$c/purser-smoke/share/ca.pem"
cp "$c/purser-smoke/token.txt" "$c/purser-smoke/share/enroll-token.txt"
startlog=$c/windows/temp/purser-startup.log
rm -f "$startlog"
run cmd /c "$win\\purser-startup.cmd" "$win\\share" 127.0.0.1:7443
expect_rc 0 "purser-startup.cmd"
wait_state RUNNING 10
file_has "$startlog" "installing $win\\share\\purser-agent-x64.msi for server 127.0.0.1:7443" "purser-startup.log"
file_has "$startlog" "msiexec exit code 0" "purser-startup.log"
file_has "$state/agent.conf" "--server=127.0.0.1:7443" "agent.conf"
before=$(wc -l <"$startlog")
run cmd /c "$win\\purser-startup.cmd" "$win\\share" 127.0.0.1:7443
expect_rc 0 "purser-startup.cmd, installed already"
[[ $(wc -l <"$startlog") == "$before" ]] || fail "purser-startup.cmd did something although the service exists"
run msiexec /x "$win\\share\\purser-agent-x64.msi" /qn
expect_rc 0 "msiexec /x"
expect_no_service "after msiexec /x"
run "$agent" uninstall --purge

echo "PASS: wine smoke test of the PurserAgent service, installer, MSI and startup script"
