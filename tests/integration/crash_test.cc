// Crashes lose nothing: an agent SIGKILLed mid-step finishes that step once;
// a server SIGKILLed right after acknowledging reports still has every one.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "db/sqlite/connection.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/client_context.h"
#include "purser/v1/agent_local.pb.h"
#include "purser/v1/simulated.pb.h"
#include "shared/files.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

TEST(Crash, AgentKilledMidStepCompletesTheStepOnce) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  auto token_file = server.TokenFile(1);
  ASSERT_TRUE(token_file.ok());
  const std::string state = dir.Sub("win81");
  const std::vector<std::string> slow = {"--sim_faults=slow_step_ms: 1500"};
  auto agent = StartAgent(server, state, *token_file, "win81-x64-ent", slow);
  ASSERT_TRUE(agent.ok());
  ASSERT_TRUE(WaitUntil([&] { return PathExists(state + "/cert.pem"); }));
  auto params = server.OnboardParams("crash-test-workspace-key");
  ASSERT_TRUE(params.ok());
  ASSERT_TRUE(server.StartRun("mde-downlevel-onboard", {}, *params).ok());

  // Kill it while the first step (KB3080149) is running.
  v1::Journal journal;
  ASSERT_TRUE(WaitUntil([&] {
    return journal.ParseFromString(Slurp(state + "/journal")) &&
           journal.phase() == v1::Journal::PHASE_STARTED;
  }));
  (*agent)->Signal(SIGKILL);
  (*agent)->Wait();

  auto restarted = StartAgent(server, state, *token_file, "win81-x64-ent", slow);
  ASSERT_TRUE(restarted.ok());
  std::string id;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto list = server.List();
        if (!list.ok() || list->empty()) return false;
        id = list->front().id();
        return list->front().state() == v1::ENDPOINT_STATE_ONBOARDED;
      },
      absl::Seconds(60)))
      << (*restarted)->Log();

  v1::SimMachine m;
  ASSERT_TRUE(
      google::protobuf::TextFormat::ParseFromString(Slurp(state + "/machine.textproto"), &m));
  int installs = 0;
  for (const auto& i : m.install_log()) installs += i.what() == "KB3080149";
  EXPECT_EQ(installs, 1);
  auto conn = db::Connection::Open(server.data_dir() + "/purser.db", false);
  ASSERT_TRUE(conn.ok());
  auto s = (*conn)->Prepare("SELECT job_id, COUNT(*), MAX(attempt) FROM reports GROUP BY job_id");
  ASSERT_TRUE(s.ok());
  int jobs = 0;
  while (*s->Step()) {
    ++jobs;
    EXPECT_EQ(s->Int(1), 1) << s->Text(0) << " reported more than once";
    EXPECT_EQ(s->Int(2), 1) << s->Text(0) << " needed a second attempt";
  }
  auto detail = server.Get(id);
  ASSERT_TRUE(detail.ok());
  EXPECT_EQ(jobs, detail->jobs_size());
}

TEST(Crash, ServerKilledAfterAcknowledgingReportsLosesNone) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  auto token = server.Token(4);
  ASSERT_TRUE(token.ok());
  std::vector<RawAgent> agents;
  for (int i = 0; i < 4; ++i) {
    auto a = EnrollRaw(server, *token, Win7Inventory("h" + std::to_string(i)),
                       dir.Sub("a" + std::to_string(i)));
    ASSERT_TRUE(a.ok()) << a.status();
    agents.push_back(std::move(*a));
  }
  ASSERT_TRUE(server.StartRun("many-steps", {}, {}).ok());

  absl::Mutex mu;
  std::vector<std::pair<std::string, int>> acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& a : agents) {
    threads.emplace_back([&, stub = a.stub.get()] {
      while (!stop) {
        v1::WaitForWorkRequest wait;
        wait.set_wait_seconds(1);
        v1::WaitForWorkResponse work;
        grpc::ClientContext c1;
        c1.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
        if (!stub->WaitForWork(&c1, wait, &work).ok()) return;
        if (!work.has_job()) continue;
        v1::ReportResultRequest r;
        r.set_job_id(work.job().job_id());
        r.set_attempt(work.job().attempt());
        r.set_outcome(v1::STEP_OUTCOME_SUCCEEDED);
        r.set_message("ok");
        v1::ReportResultResponse ack;
        grpc::ClientContext c2;
        c2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
        if (!stub->ReportResult(&c2, r, &ack).ok()) return;
        absl::MutexLock lock(&mu);
        acked.emplace_back(r.job_id(), r.attempt());
      }
    });
  }
  ASSERT_TRUE(WaitUntil([&] {
    absl::MutexLock lock(&mu);
    return acked.size() >= 30;
  }));
  server.Kill(SIGKILL);  // while reports are still in flight
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(server.Wait(), 128 + SIGKILL);

  {  // the store as the restarted server will find it
    auto conn = db::Connection::Open(server.data_dir() + "/purser.db", false);
    ASSERT_TRUE(conn.ok()) << conn.status();
    auto check = (*conn)->Prepare("PRAGMA integrity_check");
    ASSERT_TRUE(check.ok() && *check->Step());
    EXPECT_EQ(check->Text(0), "ok");
    auto s = (*conn)->Prepare("SELECT outcome FROM reports WHERE job_id = ? AND attempt = ?");
    ASSERT_TRUE(s.ok());
    for (const auto& [job, attempt] : acked) {
      s->Bind(1, job).Bind(2, static_cast<int64_t>(attempt));
      auto row = s->Step();
      ASSERT_TRUE(row.ok());
      EXPECT_TRUE(*row) << "acknowledged report of " << job << " lost";
      if (*row) {
        EXPECT_EQ(s->Int(0), v1::STEP_OUTCOME_SUCCEEDED);
      }
      ASSERT_TRUE(s->Exec().ok());  // reset for the next binding
    }
  }

  ASSERT_TRUE(server.Start().ok()) << server.Log();
  auto list = server.List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 4u);
}

}  // namespace
}  // namespace purser::testing
