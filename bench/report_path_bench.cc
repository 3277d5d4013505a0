// The agent report path (wait for work, then report) through a real Purser
// server with its SQLite store, against the bare mTLS echo measured in the
// same run with the same number of connections and callers.
#include <cstdio>
#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "bench/echo_server.h"
#include "db/sqlite/sqlite_store.h"
#include "grpcpp/client_context.h"
#include "server/server.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/logging.h"
#include "shared/raw_agent.h"
#include "tests/test_util.h"

ABSL_FLAG(int, agents, 64, "agents (one connection and one caller each)");
ABSL_FLAG(int, seconds, 5, "duration of each measurement");
ABSL_FLAG(int, steps, 200, "steps in the benchmark plan");
ABSL_FLAG(int, workers, 16, "server worker threads");

namespace purser::bench {
namespace {

std::string BenchPlan(int steps) {
  std::string p = "name: \"bench\"\npurpose: PLAN_PURPOSE_ONBOARD\n";
  for (int i = 0; i < steps; ++i) {
    absl::StrAppend(&p, "steps { id: \"s", i, "\" kind: STEP_KIND_VERIFY platforms { product: ",
                    "OS_PRODUCT_WINDOWS_7 } check_service { name: \"windefend\" } }\n");
  }
  return p;
}

int Main() {
  SetLogLevel(LogLevel::kWarning);
  const int n = absl::GetFlag(FLAGS_agents);
  const absl::Duration d = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  Pki pki = MakePki();
  LoadResult echo;
  {
    EchoServer es(pki);
    echo = RunEcho(pki, es.port(), n, n, d);
  }
  testing::ScratchDir dir;
  MakeDirs(dir.Sub("plans")).IgnoreError();
  WriteFileAtomic(dir.Sub("plans/bench.textproto"), BenchPlan(absl::GetFlag(FLAGS_steps)))
      .IgnoreError();
  server::ServerOptions o;
  o.data_dir = dir.Sub("data");
  o.plans_dir = dir.Sub("plans");
  o.workers = absl::GetFlag(FLAGS_workers);
  auto srv = server::Server::Start(o);
  if (!srv.ok()) {
    std::fprintf(stderr, "%s\n", srv.status().ToString().c_str());
    return 1;
  }
  std::string target = absl::StrCat("127.0.0.1:", (*srv)->port());
  std::string ca = *ReadFile(o.data_dir + "/ca.pem");
  auto admin = v1::OperatorService::NewStub(MakeTlsChannel(
      target, {ca, *ReadFile(o.data_dir + "/admin.pem"), *ReadFile(o.data_dir + "/admin.key")}));
  v1::CreateEnrollmentTokenRequest treq;
  treq.set_max_uses(n);
  v1::CreateEnrollmentTokenResponse token;
  {
    grpc::ClientContext ctx;
    admin->CreateEnrollmentToken(&ctx, treq, &token);
  }
  std::vector<std::unique_ptr<v1::AgentService::Stub>> agents;
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    v1::Inventory inv;
    inv.set_hostname(absl::StrCat("bench-", i));
    inv.mutable_os()->set_product(v1::OS_PRODUCT_WINDOWS_7);
    inv.mutable_os()->set_version("6.1.7601");
    inv.mutable_os()->set_service_pack(1);
    inv.mutable_os()->set_edition("Enterprise");
    inv.mutable_os()->set_arch(v1::ARCH_X64);
    auto id = EnrollRawIdentity(target, ca, token.token(), inv, dir.Sub(absl::StrCat("a", i)));
    if (!id.ok()) {
      std::fprintf(stderr, "enroll: %s\n", id.status().ToString().c_str());
      return 1;
    }
    ids.push_back(id->endpoint_id);
    agents.push_back(v1::AgentService::NewStub(RawAgentChannel(target, *id)));
  }
  auto start_run = [&](const std::vector<std::string>& endpoints) {
    v1::StartRunRequest req;
    req.set_plan_name("bench");
    for (const auto& id : endpoints) req.add_endpoint_ids(id);
    v1::StartRunResponse resp;
    grpc::ClientContext ctx;
    return admin->StartRun(&ctx, req, &resp).ok();
  };
  start_run(ids);
  auto* store = dynamic_cast<db::SqliteStore*>((*srv)->core()->store.get());
  db::Writer::Stats before = store->writer_stats();
  double cpu0 = CpuSeconds();
  LoadResult steps = RunLoad(n, d, [&](int w) {
    v1::WaitForWorkRequest wreq;
    wreq.set_wait_seconds(5);
    v1::WaitForWorkResponse work;
    grpc::ClientContext c1;
    if (!agents[w]->WaitForWork(&c1, wreq, &work).ok()) return false;
    if (!work.has_job()) return start_run({ids[w]});  // run finished: start another
    v1::ReportResultRequest r;
    r.set_job_id(work.job().job_id());
    r.set_attempt(work.job().attempt());
    r.set_outcome(v1::STEP_OUTCOME_SUCCEEDED);
    v1::ReportResultResponse ack;
    grpc::ClientContext c2;
    return agents[w]->ReportResult(&c2, r, &ack).ok();
  });
  double cpu = CpuSeconds() - cpu0;
  db::Writer::Stats after = store->writer_stats();
  double rpcs = 2.0 * steps.rate();
  int64_t txns = after.transactions - before.transactions;
  int64_t writes = after.writes - before.writes;
  std::printf(
      "bare gRPC mTLS echo, %d connections x %d callers: %.0f RPC/s (p50 %.2f ms, p99 %.2f ms)\n",
      n, n, echo.rate(), echo.p50_ms, echo.p99_ms);
  std::printf(
      "report path (WaitForWork + ReportResult), %d agents: %.0f steps/s = %.0f RPC/s "
      "(step p50 %.2f ms, p99 %.2f ms, %lld errors)\n",
      n, steps.rate(), rpcs, steps.p50_ms, steps.p99_ms, static_cast<long long>(steps.errors));
  std::printf("  ratio to bare echo: %.2f\n", rpcs / echo.rate());
  std::printf(
      "figure report_echo_rps %.0f\nfigure report_rps %.0f\nfigure report_writes_per_txn %.1f\n",
      echo.rate(), rpcs, txns ? static_cast<double>(writes) / txns : 0.0);
  std::printf("  SQLite: %lld transactions, %.1f writes/transaction, %.0f transactions/s\n",
              static_cast<long long>(txns), txns ? static_cast<double>(writes) / txns : 0.0,
              txns / steps.seconds);
  std::printf("  process CPU (server + load generator): %.0f%% of one core\n",
              100 * cpu / steps.seconds);
  (*srv)->Shutdown();
  return 0;
}

}  // namespace
}  // namespace purser::bench

int main(int argc, char** argv) {
  purser::bench::InitBenchmark(argc, argv);
  return purser::bench::Main();
}
