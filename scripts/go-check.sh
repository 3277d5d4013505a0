#!/usr/bin/env bash
# The agent's Go code is gofmt-formatted and go vet clean, for Linux and for
# both Windows architectures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
unformatted=$(gofmt -l client fleetsim)
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:" $unformatted
  exit 1
fi
for target in linux/amd64 linux/386 windows/amd64 windows/386; do
  GOOS=${target%/*} GOARCH=${target#*/} scripts/go.sh vet purser/client/... purser/fleetsim/...
done
echo "go vet and gofmt: clean"
