// Status queries a script or an operator runs (list the failed endpoints,
// count endpoints by state) through a real server holding --endpoints
// endpoints, against the bare mTLS echo's latency measured in the same run.
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "bench/echo_server.h"
#include "grpcpp/client_context.h"
#include "server/server.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/logging.h"
#include "tests/test_util.h"

ABSL_FLAG(int, endpoints, 100'000, "endpoints in the store");
ABSL_FLAG(int, queries, 300, "queries of each kind");
ABSL_FLAG(double, failed_pct, 2, "percent of endpoints in FAILED");

namespace purser::bench {
namespace {

struct Latency {
  double p50 = 0, p99 = 0;
};

Latency Measure(int n, const std::function<bool()>& call, int* errors) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    absl::Time t0 = absl::Now();
    if (!call()) ++*errors;
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)]};
}

int Main() {
  SetLogLevel(LogLevel::kWarning);
  const int n = absl::GetFlag(FLAGS_endpoints), q = absl::GetFlag(FLAGS_queries);
  Pki pki = MakePki();
  LoadResult echo;
  {
    EchoServer es(pki);
    echo = RunEcho(pki, es.port(), 1, 1, absl::Seconds(2));  // one caller, as a script is
  }
  testing::ScratchDir dir;
  server::ServerOptions o;
  o.data_dir = dir.Sub("data");
  auto srv = server::Server::Start(o);
  if (!srv.ok()) {
    std::fprintf(stderr, "%s\n", srv.status().ToString().c_str());
    return 1;
  }
  // Seed through the store, as enrollment does (group commit from 8 threads).
  db::Store* store = (*srv)->core()->store.get();
  int64_t now = absl::ToUnixMillis(absl::Now());
  db::TokenRecord token{
      "bench", Sha256Hex("secret"), n, now + 3'600'000, {{"site", "bench"}}, "", "", {}};
  if (!store->CreateToken(token, now).ok()) return 1;
  absl::Time t0 = absl::Now();
  std::vector<std::thread> seeders;
  for (int t = 0; t < 8; ++t) {
    seeders.emplace_back([&, t] {
      for (int i = t; i < n; i += 8) {
        v1::Inventory inv;
        inv.set_hostname(absl::StrFormat("host-%06d", i));
        inv.mutable_os()->set_product(i % 3 ? v1::OS_PRODUCT_WINDOWS_7
                                            : v1::OS_PRODUCT_WINDOWS_8_1);
        inv.mutable_os()->set_version(i % 3 ? "6.1.7601" : "6.3.9600");
        inv.mutable_os()->set_service_pack(i % 3 ? 1 : 0);
        inv.mutable_os()->set_edition("Enterprise");
        inv.mutable_os()->set_arch(v1::ARCH_X64);
        db::EnrollArgs a{
            "bench", Sha256Hex("secret"),        Sha256Hex(inv.hostname()).substr(0, 32),
            inv,     absl::StrCat("serial-", i), now + 3'600'000,
            now};
        store->Enroll(a).IgnoreError();
      }
    });
  }
  for (auto& t : seeders) t.join();
  double seed_s = absl::ToDoubleSeconds(absl::Now() - t0);
  // States a fleet mid-rollout has; set in place (the bench needs the mix, not the history).
  sqlite3* db = nullptr;
  sqlite3_open((o.data_dir + "/purser.db").c_str(), &db);
  sqlite3_busy_timeout(db, 10'000);
  std::string sql = absl::StrFormat(
      "UPDATE endpoints SET state = CASE WHEN rowid %% 1000 < %d THEN 8 WHEN rowid %% 10 < 6 THEN "
      "7 WHEN rowid %% 10 < 8 THEN 5 ELSE 2 END, state_detail = 'sha2-kb4474419-x64: exit code "
      "0x80070643'",
      static_cast<int>(absl::GetFlag(FLAGS_failed_pct) * 10));
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "seed: %s\n", err);
    return 1;
  }
  sqlite3_close(db);

  std::string target = absl::StrCat("127.0.0.1:", (*srv)->port());
  auto op = v1::OperatorService::NewStub(MakeTlsChannel(
      target, {*ReadFile(o.data_dir + "/ca.pem"), *ReadFile(o.data_dir + "/admin.pem"),
               *ReadFile(o.data_dir + "/admin.key")}));
  int errors = 0;
  int64_t failed_seen = 0;
  Latency list = Measure(
      q,
      [&] {
        v1::ListEndpointsRequest req;
        req.set_state(v1::ENDPOINT_STATE_FAILED);
        req.set_page_size(100);
        v1::ListEndpointsResponse resp;
        grpc::ClientContext ctx;
        bool ok = op->ListEndpoints(&ctx, req, &resp).ok();
        failed_seen = resp.endpoints_size();
        return ok && resp.endpoints_size() > 0;
      },
      &errors);
  int64_t total = 0;
  Latency count = Measure(
      q,
      [&] {
        v1::EndpointCounts resp;
        grpc::ClientContext ctx;
        bool ok = op->CountEndpoints(&ctx, v1::ListEndpointsRequest(), &resp).ok();
        total = resp.total();
        return ok;
      },
      &errors);
  Latency count_campaign_like = Measure(
      q,
      [&] {
        v1::ListEndpointsRequest req;
        req.set_product(v1::OS_PRODUCT_WINDOWS_8_1);
        v1::EndpointCounts resp;
        grpc::ClientContext ctx;
        return op->CountEndpoints(&ctx, req, &resp).ok();
      },
      &errors);
  std::printf("store: %d endpoints seeded in %.1f s (%.0f enrollments/s); counted back: %lld\n", n,
              seed_s, n / seed_s, static_cast<long long>(total));
  std::printf("bare gRPC mTLS echo, one caller: p50 %.2f ms, p99 %.2f ms\n", echo.p50_ms,
              echo.p99_ms);
  std::printf("list the failed endpoints (first page of %lld): p50 %.2f ms, p99 %.2f ms\n",
              static_cast<long long>(failed_seen), list.p50, list.p99);
  std::printf("count endpoints by state: p50 %.2f ms, p99 %.2f ms\n", count.p50, count.p99);
  std::printf("count by state for one OS: p50 %.2f ms, p99 %.2f ms\n", count_campaign_like.p50,
              count_campaign_like.p99);
  std::printf("errors: %d\n", errors);
  std::printf(
      "figure echo_p99_ms %.3f\nfigure list_failed_p50_ms %.3f\nfigure list_failed_p99_ms %.3f\n"
      "figure count_p50_ms %.3f\nfigure count_p99_ms %.3f\nfigure count_os_p99_ms %.3f\n",
      echo.p99_ms, list.p50, list.p99, count.p50, count.p99, count_campaign_like.p99);
  (*srv)->Shutdown();
  return errors ? 1 : 0;
}

}  // namespace
}  // namespace purser::bench

int main(int argc, char** argv) {
  purser::bench::InitBenchmark(argc, argv);
  return purser::bench::Main();
}
