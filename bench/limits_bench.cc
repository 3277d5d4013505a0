// This machine's limits, measured now: bare gRPC mTLS echo and bare SQLite
// batched upserts (WAL, synchronous=FULL). Prints one line per figure.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "bench/echo_server.h"
#include "db/sqlite/connection.h"
#include "tests/test_util.h"

ABSL_FLAG(int, seconds, 5, "duration of each RPC measurement");

namespace purser::bench {

double SqliteRowsPerSecond(const std::string& path, int batch, int rows) {
  auto conn = db::Connection::Open(path, true);
  (*conn)->ExecScript("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)").IgnoreError();
  absl::Time t0 = absl::Now();
  for (int i = 0; i < rows; i += batch) {
    (*conn)->ExecScript("BEGIN IMMEDIATE").IgnoreError();
    for (int j = i; j < i + batch; ++j) {
      auto s = (*conn)->Prepare(
          "INSERT INTO t VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v");
      s->Bind(1, static_cast<int64_t>(j)).Bind(2, std::string("value")).Exec().IgnoreError();
    }
    (*conn)->ExecScript("COMMIT").IgnoreError();
  }
  return rows / absl::ToDoubleSeconds(absl::Now() - t0);
}

}  // namespace purser::bench

int main(int argc, char** argv) {
  purser::bench::InitBenchmark(argc, argv);
  using namespace purser::bench;
  Pki pki = MakePki();
  EchoServer server(pki);
  LoadResult echo =
      RunEcho(pki, server.port(), 16, 64, absl::Seconds(absl::GetFlag(FLAGS_seconds)));
  std::printf(
      "bare gRPC mTLS echo, 16 channels x 64 callers: %.0f RPC/s (p50 %.2f ms, p99 %.2f ms, %lld "
      "errors)\n",
      echo.rate(), echo.p50_ms, echo.p99_ms, static_cast<long long>(echo.errors));
  std::printf("figure echo_rps %.0f\n", echo.rate());
  purser::testing::ScratchDir dir;
  for (int batch : {1, 100, 1000}) {
    double rate = SqliteRowsPerSecond(dir.Sub("b" + std::to_string(batch) + ".db"), batch,
                                      batch == 1 ? 5000 : 100000);
    std::printf("bare SQLite WAL upserts, synchronous=FULL, %d rows/transaction: %.0f rows/s\n",
                batch, rate);
    std::printf("figure sqlite_rows_per_s_%d %.0f\n", batch, rate);
  }
  return 0;
}
