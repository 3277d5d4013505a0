#!/usr/bin/env bash
# The agent's Go code is gofmt-formatted and go vet clean, for Linux and for
# both Windows architectures (and the Wine test's stand-in, for Windows).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
unformatted=$(gofmt -l client fleetsim tests/integration/wine)
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:" $unformatted
  exit 1
fi
for target in linux/amd64 linux/386 windows/amd64 windows/386; do
  GOOS=${target%/*} GOARCH=${target#*/} scripts/go.sh vet purser/client/... purser/fleetsim/...
done
# The Wine end-to-end test's stand-in is a Windows program only.
GOOS=windows GOARCH=amd64 scripts/go.sh vet purser/tests/integration/wine/standin
echo "go vet and gofmt: clean"
