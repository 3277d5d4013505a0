#!/usr/bin/env bash
# Builds and runs the benchmarks; each prints its figures beside the bare
# limits measured in the same run. Not tests: nothing here asserts a time.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE=Release scripts/setup.sh >/dev/null
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r)"
echo "== limits"
build/bench/bench_limits --seconds="${BENCH_SECONDS:-5}"
echo "== report path"
build/bench/bench_report_path --seconds="${BENCH_SECONDS:-5}"
