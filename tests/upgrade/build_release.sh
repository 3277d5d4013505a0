#!/usr/bin/env bash
# Builds purser-server, purserctl and purser-agent of an earlier commit into
# OUTDIR/build (sources in OUTDIR/src, taken from git history), at low priority
# and on two cores. A finished build is reused. Prints the seconds it took.
#   tests/upgrade/build_release.sh COMMIT OUTDIR [TARGET...]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 COMMIT OUTDIR [TARGET...]" >&2; exit 2; }
commit=$1 out=$2; shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(purser-server purserctl purser-agent)
repo=$(cd "$(dirname "$0")/../.." && pwd)
if ! git -C "$repo" rev-parse --verify -q "$commit^{commit}" >/dev/null; then
  echo "build_release: commit $commit is not in the git history of $repo:" \
    "the upgrade and compatibility tests build earlier releases from git history;" \
    "use a clone with history (git fetch --unshallow)" >&2
  exit 1
fi
commit=$(git -C "$repo" rev-parse "$commit^{commit}")
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Another commit was built here before: start over.
if [ "$(cat "$out/COMMIT" 2>/dev/null)" != "$commit" ]; then
  rm -rf "$out/src" "$out/build"
  echo "$commit" >"$out/COMMIT"
fi
stamp="$out/build/.built-$(echo "${targets[*]}" | tr ' ' '+')"
if [ -f "$stamp" ]; then
  echo "build_release: $commit already built in $out/build" >&2
  exit 0
fi
if [ ! -f "$out/src/CMakeLists.txt" ]; then
  rm -rf "$out/src"
  mkdir -p "$out/src"
  git -C "$repo" archive "$commit" | tar -x -C "$out/src"
fi
start=$(date +%s)
# Optimisation off and no debug info: these builds only make data and speak
# the wire protocol; compile time is what matters.
nice -n 19 cmake -S "$out/src" -B "$out/build" -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS=-O0 \
  -DPURSER_WERROR=OFF >"$out/configure.log" 2>&1 ||
  { echo "build_release: configure failed, see $out/configure.log" >&2; exit 1; }
nice -n 19 cmake --build "$out/build" -j2 --target "${targets[@]}" >"$out/build.log" 2>&1 ||
  { echo "build_release: build failed, see $out/build.log" >&2; tail -20 "$out/build.log" >&2; exit 1; }
secs=$(($(date +%s) - start))
echo "$secs" >"$stamp"
echo "build_release: $commit (${targets[*]}) built in ${secs}s" >&2
