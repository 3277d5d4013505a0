#!/usr/bin/env bash
# Runs a Go test binary built for windows/amd64 under Wine, in a fresh
# 64-bit prefix set up as Windows 7 SP1 x64 Enterprise:
#   tests/integration/wine_go_test.sh <pkg.test.exe>
# Wine can exit 0 when a launch failed (WINEDEBUG=-all hides why), so the
# verdict is read from the test binary's own output.
set -euo pipefail
[[ $# -eq 1 && -f $1 ]] || { echo "usage: wine_go_test.sh <test.exe>" >&2; exit 2; }
command -v wine >/dev/null || { echo "wine_go_test.sh: wine is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
work=$(mktemp -d)
export WINEPREFIX=$work/prefix WINEDEBUG=-all
trap 'wineserver -k 2>/dev/null || true; wineserver -w 2>/dev/null || true; rm -rf "$work"' EXIT
wineboot --init >/dev/null 2>&1
wine reg add 'HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion' /v EditionID /t REG_SZ \
  /d Enterprise /f >/dev/null 2>&1
wine "$1" -test.v >"$work/out.txt" 2>&1 || true
cat "$work/out.txt"
if grep -q '^--- FAIL' "$work/out.txt" || ! grep -qx 'PASS' "$work/out.txt"; then
  echo "wine_go_test.sh: $1 failed under Wine" >&2
  exit 1
fi
echo "wine_go_test.sh: $(grep -c '^--- PASS' "$work/out.txt") tests passed under Wine"
