#!/usr/bin/env bash
# The whole C++ test suite again, built by clang under AddressSanitizer and
# UBSan with its thread-safety analysis as errors; the agent's Go tests under
# Go's race detector; then each fuzz target for a bounded time from its seed
# corpus. Run by scripts/test.sh. (The Go, Windows, Wine and Debian package
# tests, which run no sanitized code, and the previous release's
# compatibility test, which builds that release, ran in the normal suite.)
#   FUZZ_SECONDS  per fuzz target (default 40)
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${FUZZ_SECONDS:-40}"
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "sanitize: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
start=$(date +%s)
CC=clang CXX=clang++ cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Sanitize -DPURSER_ASAN=ON \
  -DPURSER_BENCH=OFF >/dev/null
cmake --build build-sanitize -j2
built=$(date +%s)
# Leaks at exit are gRPC's and Abseil's process-lifetime singletons: not checked.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd build-sanitize && ctest -j2 --output-on-failure --timeout 600 -LE 'go|windows|package|compat' -E '^Wine' "$@")
CGO_ENABLED=1 BUILD_DIR=build-sanitize scripts/go.sh test -race -count=1 purser/client/... \
  purser/fleetsim/...
tested=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for name in plan_text plan_json x509 report metrics_http config_file; do
  mkdir -p "$work/$name"
  cp tests/fuzz/corpus/$name/* "$work/$name/"
  echo "fuzz: $name for ${FUZZ_SECONDS}s"
  build-sanitize/tests/fuzz_$name -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$work/$name-" "$work/$name" \
    2>"$work/$name.log" || { tail -40 "$work/$name.log"; cp "$work/$name"-* . 2>/dev/null; exit 1; }
  grep -E "stat::number_of_executed_units|cov:" "$work/$name.log" | tail -2
done
done_at=$(date +%s)
echo "sanitize: build $((built - start)) s, tests under ASan+UBSan $((tested - built)) s," \
  "fuzzing $((done_at - tested)) s"
