#!/usr/bin/env bash
# Builds and runs every benchmark in one go and prints the table: each figure
# beside the limit it is compared with, measured in the same run. Not tests:
# nothing here asserts a time. About 8 minutes on 2 cores.
#   FLEET=10000 (simulated agents)  QUERY_ENDPOINTS=100000  BENCH_SECONDS=5
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE=Release scripts/setup.sh >/dev/null
FLEET=${FLEET:-10000}
QUERY_ENDPOINTS=${QUERY_ENDPOINTS:-100000}
OUT=${BENCH_DIR:-bench-run}
rm -rf "$OUT"; mkdir -p "$OUT"
FLEET_ROOT=/dev/shm/purser-bench-fleet-$$
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$FLEET_ROOT"
}
trap cleanup EXIT
fig() { awk -v k="$2" '$1 == "figure" && $2 == k {print $3}' "$OUT/$1.txt" | tail -1; }

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), $(date -u +%F)"
echo "== limits (bare gRPC mTLS echo, bare SQLite)"
build/bench/bench_limits --seconds="${BENCH_SECONDS:-5}" >"$OUT/limits.txt"
grep -v '^figure' "$OUT/limits.txt"
echo "== report path"
build/bench/bench_report_path --seconds="${BENCH_SECONDS:-5}" >"$OUT/report.txt"
grep -v '^figure' "$OUT/report.txt"
echo "== status queries with $QUERY_ENDPOINTS endpoints"
build/bench/bench_status_queries --endpoints="$QUERY_ENDPOINTS" --queries=100 >"$OUT/queries.txt"
grep -v '^figure' "$OUT/queries.txt"
echo "== bare mTLS storm: $FLEET fresh connections to the bare echo server (separate process)"
build/bench/bench_storm --connections="$FLEET" >"$OUT/storm.txt" || true
grep -v '^figure' "$OUT/storm.txt"
echo "== fleet of $FLEET simulated agents against purser-server (separate processes)"
build/purser-server --data_dir="$OUT/server" --plans_dir=deploy/plans --listen=127.0.0.1:0 \
  --port_file="$OUT/port" --mutex_deadlock_checks=false --metrics_listen=127.0.0.1:0 \
  2>"$OUT/server.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$OUT/port" ] && break; sleep 0.1; done
build/purser-fleetsim --server="127.0.0.1:$(cat "$OUT/port")" --ca="$OUT/server/ca.pem" \
  --cert="$OUT/server/admin.pem" --key="$OUT/server/admin.key" --agents="$FLEET" \
  --state_root="$FLEET_ROOT" --phases=enroll,boot,idle,campaign --timeout_seconds=120 \
  >"$OUT/fleet.txt" || true
grep -v '^figure' "$OUT/fleet.txt"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

r() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
echo
echo "== Purser vs this machine's limits (same run; $FLEET agents, $QUERY_ENDPOINTS endpoints)"
echo "| what | Purser | limit, same run | ratio | target |"
echo "|---|---|---|---|---|"
echo "| agent report path, RPC/s | $(fig report report_rps) | bare mTLS echo, same connections: $(fig report report_echo_rps) | $(r "$(fig report report_rps)" "$(fig report report_echo_rps)") | >= 0.50x |"
echo "| report path, SQLite writes per transaction | $(fig report report_writes_per_txn) | bare SQLite rows/s at 1 / 100 per txn: $(fig limits sqlite_rows_per_s_1) / $(fig limits sqlite_rows_per_s_100) | - | - |"
echo "| enroll $FLEET agents, s | $(fig fleet enroll_seconds) (errors: $(fig fleet enroll_errors)) | - | - | - |"
echo "| boot storm of $FLEET, s until all checked in | $(fig fleet boot_seconds) (errors: $(fig fleet boot_errors)) | - | - | <= 15 s, no errors |"
echo "| boot storm of $FLEET vs the bare mTLS storm of $FLEET, s | $(fig fleet boot_seconds) | $(fig storm storm_seconds) | $(r "$(fig fleet boot_seconds)" "$(fig storm storm_seconds)") | <= 1.25x (BASELINES) |"
echo "| boot storm: peak new TLS connections/s; server CPU s | $(fig fleet boot_peak_handshakes_per_second); $(fig fleet boot_server_cpu_seconds) | bare storm server CPU: $(fig storm storm_server_cpu_seconds) s | $(awk -v c="$(fig fleet boot_server_cpu_seconds)" -v n="$FLEET" 'BEGIN {printf "%.1f ms/handshake", 1000*c/n}') | - |"
echo "| idle agents: server memory per agent, KB | $(awk -v a="$(fig fleet idle_server_rss_bytes)" -v b="$(fig fleet server_rss_before_boot_bytes)" -v n="$(fig fleet idle_parked)" 'BEGIN {printf "%.0f", (a-b)/n/1024}') | - | - | <= 30 KB |"
echo "| idle agents: server CPU, % of one core | $(fig fleet idle_server_cpu_percent) | - | - | - |"
echo "| campaign of $FLEET (default plan): s; done / failed | $(fig fleet campaign_seconds); $(fig fleet campaign_done) / $(fig fleet campaign_failed) | - | - | <= 30 s |"
echo "| campaign: agent RPCs; SQLite transactions; writes/txn | $(fig fleet campaign_rpcs); $(fig fleet campaign_sqlite_transactions); $(fig fleet campaign_writes_per_transaction) | - | - | - |"
echo "| list FAILED endpoints (page of 100), p50 / p99 ms | $(fig queries list_failed_p50_ms) / $(fig queries list_failed_p99_ms) | bare echo p99, one caller: $(fig queries echo_p99_ms) | - | < 50 ms p99 |"
echo "| count endpoints by state, p50 / p99 ms | $(fig queries count_p50_ms) / $(fig queries count_p99_ms) | same | - | < 50 ms p99 |"
echo "| count by state for one OS, p99 ms | $(fig queries count_os_p99_ms) | same | - | < 50 ms p99 |"
