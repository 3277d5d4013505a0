#!/usr/bin/env bash
# The Debian package, installed in a clean Debian 12 root as an administrator
# would: apt installs it with its dependencies; the purser user, the state
# directory and the conffile are there; the installed unit verifies; the
# server runs as the unit runs it (user purser, umask 0077, its config file,
# no W+X memory), agents enroll and an onboarding campaign completes with the
# first admin's certificate, SIGHUP reloads the plans; an upgrade keeps
# configuration and data; purge removes them.
#   tests/integration/package_test.sh <build dir>
# Needs root (debootstrap, chroot, mount) and the Debian mirror. The minbase
# root is made once and kept in <build>/package-test/base (remove it to make
# it anew); each run works on a copy, and keeps the .debs apt downloaded.
set -euo pipefail
[[ $# -eq 1 && -d $1 ]] || { echo "usage: package_test.sh <build dir>" >&2; exit 2; }
fail() { echo "package_test.sh: FAIL: $*" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
  fail "must run as root (debootstrap, chroot and mount need it); CI runs as root"
fi
for tool in debootstrap chroot mount dpkg-deb systemd-analyze python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/setup.sh installs it)"
done
BUILD=$(cd "$1" && pwd)
started=$(date +%s)
step() { echo "== [$(($(date +%s) - started)) s] $*"; }

# The package, as the package-deb target made it (ctest's package_deb test
# runs that target first).
debs=("$BUILD"/purser-server_*_amd64.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] ||
  fail "expected one purser-server_*_amd64.deb in $BUILD (cmake --build $BUILD --target package-deb)"
DEB=${debs[0]}
[ "$DEB" -nt "$BUILD/purser-server" ] || fail "$DEB is older than $BUILD/purser-server: build package-deb"

WORK=$BUILD/package-test
BASE=$WORK/base
ROOT=$WORK/root
mkdir -p "$WORK/archives/partial"
if [ ! -f "$BASE/.purser-base-complete" ]; then
  step "debootstrap --variant=minbase bookworm (once; kept in $BASE)"
  rm -rf "$BASE"
  debootstrap --variant=minbase bookworm "$BASE" http://deb.debian.org/debian \
    >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap"; }
  cat >"$BASE/etc/apt/sources.list" <<'EOF'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  touch "$BASE/.purser-base-complete"
fi

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for m in var/cache/apt/archives dev proc; do
    mountpoint -q "$ROOT/$m" && umount -l "$ROOT/$m"
  done
  return 0
}
trap cleanup EXIT
step "a fresh copy of the root"
for m in var/cache/apt/archives dev proc; do
  if mountpoint -q "$ROOT/$m" 2>/dev/null; then umount -l "$ROOT/$m"; fi
done
rm -rf "$ROOT"
cp -a "$BASE" "$ROOT"
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mount --bind "$WORK/archives" "$ROOT/var/cache/apt/archives"  # downloads kept across runs
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

step "apt-get install ./$(basename "$DEB")"
cp "$DEB" "$ROOT/tmp/"
in_root apt-get update -qq >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log"; fail "apt-get update"; }
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  "/tmp/$(basename "$DEB")" >>"$WORK/apt.log" 2>&1 || { tail -30 "$WORK/apt.log"; fail "apt-get install"; }
grep -q "systemctl start purser-server" "$WORK/apt.log" || fail "postinst did not tell what to do next"

step "what the package set up"
in_root getent passwd purser | grep -q ":/var/lib/purser:" || fail "no system user purser"
in_root getent group purser >/dev/null || fail "no group purser"
[ "$(in_root stat -c '%a %U %G' /var/lib/purser)" = "700 purser purser" ] ||
  fail "/var/lib/purser is $(in_root stat -c '%a %U %G' /var/lib/purser), not 700 purser purser"
[ "$(in_root stat -c '%a %U' /var/lib/purser/plans)" = "700 purser" ] || fail "plans directory"
for plan in "$ROOT"/usr/share/purser/plans/*; do
  cmp -s "$plan" "$ROOT/var/lib/purser/plans/$(basename "$plan")" || fail "$plan was not copied"
done
[ -f "$ROOT/etc/purser/purser-server.conf" ] || fail "no /etc/purser/purser-server.conf"
grep -qx /etc/purser/purser-server.conf "$ROOT/var/lib/dpkg/info/purser-server.conffiles" ||
  fail "the configuration is not a conffile"
ls "$ROOT"/usr/share/purser/agent/purser-agent-*-x64.msi "$ROOT"/usr/share/purser/agent/purser-agent-*-x86.msi \
  >/dev/null || fail "the MSIs are not in /usr/share/purser/agent"
[ -L "$ROOT/etc/systemd/system/multi-user.target.wants/purser-server.service" ] ||
  fail "the unit is not enabled"
[ ! -e "$ROOT/var/lib/purser/data" ] || fail "the data directory is made at first start, not at install"
help=$(in_root purser-server --help || true)  # Abseil's --help exits 1
grep -q "^SYNOPSIS" <<<"$help" || fail "purser-server --help: $help"

step "systemd-analyze verify of the installed unit"
# systemd is not PID 1 in the root: verify it with the host's systemd, the
# programs it names pointing into the root.
mkdir -p "$WORK/unit"
sed -e "s|/usr/bin/purser-server|$ROOT/usr/bin/purser-server|" \
  "$ROOT/lib/systemd/system/purser-server.service" >"$WORK/unit/purser-server.service"
out=$(systemd-analyze verify "$WORK/unit/purser-server.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"

# The server as the unit runs it: user purser, umask 0077, its config file,
# no memory both writable and executable (the kernel's PR_SET_MDWE, what
# MemoryDenyWriteExecute=yes enforces); here on a free loopback port, with
# the metrics endpoint on another.
MDWE_EXEC='
import ctypes, os, sys
if ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    print("package_test.sh: this kernel has no PR_SET_MDWE: W^X not checked", file=sys.stderr)
os.execvp(sys.argv[1], sys.argv[1:])'
start_server() {
  rm -f "$ROOT/var/lib/purser/port"
  (
    umask 0077
    ulimit -n 65536 2>/dev/null || true
    exec python3 -c "$MDWE_EXEC" chroot --userspec=purser:purser "$ROOT" env -i PATH=/usr/bin:/bin \
      /usr/bin/purser-server --config=/etc/purser/purser-server.conf --listen=127.0.0.1:0 \
      --metrics_listen=127.0.0.1:0 --port_file=/var/lib/purser/port
  ) 2>>"$WORK/server.log" &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 150); do [ -s "$ROOT/var/lib/purser/port" ] && break; sleep 0.2; done
  [ -s "$ROOT/var/lib/purser/port" ] || { cat "$WORK/server.log"; fail "the server did not start"; }
  PORT=$(cat "$ROOT/var/lib/purser/port")
}
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || fail "the server exited $? on SIGTERM"
}
ctl() {
  in_root env PURSER_SERVER="127.0.0.1:$PORT" PURSER_CA=/var/lib/purser/data/ca.pem \
    PURSER_CERT=/var/lib/purser/data/admin.pem PURSER_KEY=/var/lib/purser/data/admin.key \
    purserctl "$@"
}

step "the server runs as purser; agents enroll; a campaign completes"
: >"$WORK/server.log"
start_server
DATA=$ROOT/var/lib/purser/data
[ "$(in_root stat -c '%a %U' /var/lib/purser/data)" = "700 purser" ] || fail "data directory mode or owner"
[ "$(in_root stat -c '%a %U' /var/lib/purser/data/admin.key)" = "600 purser" ] || fail "admin.key mode or owner"
ctl token create --uses 2 --ttl 1h --labels site=package --out /tmp/token >/dev/null
head -c 32 /dev/urandom | base64 >"$ROOT/tmp/workspace.key"
ctl secret put mde-workspace-key --from_file /tmp/workspace.key >/dev/null
mkdir -p "$ROOT/tmp/packages"
for name in $(grep -o 'artifacts { name: "[^"]*"' "$ROOT/var/lib/purser/plans/mde-downlevel-onboard.textproto" | cut -d'"' -f2); do
  { echo "stand-in for $name"; head -c 4096 /dev/urandom; } >"$ROOT/tmp/packages/$name"
done
ctl artifact upload $(cd "$ROOT" && printf '/%s ' tmp/packages/*) >/dev/null
for profile in win7-sp1-x64-ent win81-x64-ent; do
  mkdir -p "$ROOT/tmp/agents"
  chroot "$ROOT" env -i PATH=/usr/bin:/bin /usr/lib/purser/purser-agent --server="127.0.0.1:$PORT" \
    --state_dir="/tmp/agents/$profile" --ca=/var/lib/purser/data/ca.pem --token_file=/tmp/token \
    --executor=sim --sim_profile="$profile" --sim_hostname="$profile" \
    2>"$WORK/agent-$profile.log" &
  pids+=($!)
done
for _ in $(seq 150); do
  [ "$(ctl endpoints list -o json | grep -c '"id"')" -ge 2 ] && break; sleep 0.2
done
[ "$(ctl endpoints list -o json | grep -c '"id"')" -ge 2 ] || fail "the agents did not enroll"
campaign=$(ctl campaign create package-onboard --plan mde-downlevel-onboard \
  --params workspace_id=package-workspace-0001,workspace_key=mde-workspace-key \
  --labels site=package --waves 100% --max_in_flight 2 -o json |
  grep -o '"id": "c-[0-9a-f]*"' | cut -d'"' -f4)
[ -n "$campaign" ] || fail "campaign create"
timeout 180 chroot "$ROOT" env PURSER_SERVER="127.0.0.1:$PORT" PURSER_CA=/var/lib/purser/data/ca.pem \
  PURSER_CERT=/var/lib/purser/data/admin.pem PURSER_KEY=/var/lib/purser/data/admin.key \
  purserctl campaign watch "$campaign" >"$WORK/campaign.log" 2>&1 ||
  { cat "$WORK/campaign.log"; ctl endpoints list; fail "campaign $campaign did not complete"; }
ctl endpoints list | tee "$WORK/endpoints.txt"
[ "$(grep -c ONBOARDED "$WORK/endpoints.txt")" -eq 2 ] || fail "both endpoints onboarded"
for p in "${pids[@]:1}"; do kill "$p" 2>/dev/null || true; done
kill -HUP "$server_pid"  # what ExecReload sends
for _ in $(seq 50); do grep -q "reloaded 2 plans" "$WORK/server.log" && break; sleep 0.1; done
grep -q "reloaded 2 plans from /var/lib/purser/plans" "$WORK/server.log" || fail "no reload on SIGHUP"
stop_server
grep -q "server: stopped" "$WORK/server.log" || fail "no clean stop in the server's log"

step "an upgrade keeps the configuration and the data"
echo "# kept across upgrades" >>"$ROOT/etc/purser/purser-server.conf"
ca_before=$(sha256sum <"$DATA/ca.pem")
rm -rf "$WORK/next" && dpkg-deb -R "$DEB" "$WORK/next"
sed -i 's/^Version: .*/&+upgrade1/' "$WORK/next/DEBIAN/control"
dpkg-deb -Zgzip -z1 -b "$WORK/next" "$ROOT/tmp/next.deb" >/dev/null
in_root env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/next.deb >"$WORK/upgrade.log" 2>&1 ||
  { cat "$WORK/upgrade.log"; fail "dpkg -i of the upgrade"; }
in_root dpkg-query -W -f='${Version}' purser-server | grep -q "+upgrade1$" || fail "not upgraded"
grep -qx "# kept across upgrades" "$ROOT/etc/purser/purser-server.conf" || fail "conffile replaced"
[ "$(sha256sum <"$DATA/ca.pem")" = "$ca_before" ] || fail "the CA changed"
[ "$(in_root stat -c '%a %U %G' /var/lib/purser)" = "700 purser purser" ] || fail "state directory"
start_server
[ "$(ctl endpoints list | grep -c ONBOARDED)" -eq 2 ] || fail "the fleet was not kept"
stop_server

step "apt purge removes /etc/purser and /var/lib/purser"
in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y purser-server >"$WORK/purge.log" 2>&1 ||
  { cat "$WORK/purge.log"; fail "apt-get purge"; }
for gone in /etc/purser /var/lib/purser /usr/bin/purser-server /lib/systemd/system/purser-server.service \
  /etc/systemd/system/multi-user.target.wants/purser-server.service; do
  [ ! -e "$ROOT$gone" ] && [ ! -L "$ROOT$gone" ] || fail "$gone is left after purge"
done

echo "package_test.sh: passed in $(($(date +%s) - started)) s"
