#!/usr/bin/env bash
# Runs the go tool on the agent's packages the way the build does: GOPATH mode
# over Debian's Go packages, no cgo. The build directory (BUILD_DIR, default
# build/) must be configured: it holds the generated protobuf code.
#   scripts/go.sh test purser/client/...
# ("purser/<dir>/..." is expanded here: the go tool does not walk the
# symbolic link that puts the source tree into GOPATH.)
#   GOOS=windows GOARCH=386 scripts/go.sh build -o a.exe purser/client/cmd/purser-agent
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
export GO111MODULE=off GOPATH="$build/gopath:/usr/share/gocode" CGO_ENABLED=${CGO_ENABLED:-0} \
  GOCACHE="$build/gocache" GOFLAGS=-trimpath
args=()
for a in "$@"; do
  if [[ $a == purser/*/... ]]; then
    dir=${a#purser/}
    dir=${dir%/...}
    while read -r d; do args+=("purser/$d"); done < <(cd "$root" && find "$dir" -name '*.go' \
      -printf '%h\n' | sort -u)
  else
    args+=("$a")
  fi
done
exec go "${args[@]}"
