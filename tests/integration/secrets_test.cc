// Secrets reach only the steps that use them, and never the logs, the audit
// log or an error message, whatever the caller sends.
#include <gtest/gtest.h>

#include <csignal>

#include "grpcpp/client_context.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

constexpr char kKey[] = "wk-5ecret-value-never-shown-9f3a";

grpc::ClientContext* Ctx(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return ctx;
}

bool HasSecret(const v1::Job& job) {
  for (const auto& [k, v] : job.params()) {
    if (k.rfind("secret:", 0) == 0 || v == kKey) return true;
  }
  return false;
}

bool References(const v1::Job& job) {
  return job.step().ShortDebugString().find("${secret:") != std::string::npos;
}

// Runs `agent` through whatever it is given (every step succeeds, reboots are
// acted out at once) until `until` holds or nothing comes for a while.
std::vector<v1::Job> Drive(RawAgent& agent, const std::function<bool(const v1::Job&)>& until) {
  std::vector<v1::Job> jobs;
  for (int polls = 0; polls < 60; ++polls) {
    v1::WaitForWorkRequest req;
    req.set_wait_seconds(3);
    v1::WaitForWorkResponse resp;
    grpc::ClientContext ctx;
    if (!agent.stub->WaitForWork(Ctx(&ctx), req, &resp).ok()) continue;
    if (resp.reboot()) {
      v1::CheckInRequest in;
      *in.mutable_inventory() = Win7Inventory("pc");
      v1::CheckInResponse out;
      grpc::ClientContext c2;
      agent.stub->CheckIn(Ctx(&c2), in, &out);
      continue;
    }
    if (!resp.has_job()) continue;
    jobs.push_back(resp.job());
    v1::ReportResultRequest report;
    report.set_job_id(resp.job().job_id());
    report.set_attempt(resp.job().attempt());
    report.set_outcome(v1::STEP_OUTCOME_SUCCEEDED);
    v1::ReportResultResponse ack;
    grpc::ClientContext c3;
    agent.stub->ReportResult(Ctx(&c3), report, &ack);
    if (until(resp.job())) break;
  }
  return jobs;
}

// Patches, checks and the daily re-verification get no workspace key; the
// steps that configure the workspace do.
TEST(SecretsTest, OnlyTheStepsThatReferenceASecretReceiveIt) {
  TempDir dir;
  TestServer server(dir.path(), {"--reverify_every_ms=2000"});
  ASSERT_TRUE(server.Start().ok());
  auto params = server.OnboardParams(kKey);
  ASSERT_TRUE(params.ok());
  auto token = server.Token(1);
  auto agent = EnrollRaw(server, *token, Win7Inventory("pc"), dir.Sub("a"));
  ASSERT_TRUE(agent.ok());
  auto run = server.StartRun("mde-downlevel-onboard", {agent->identity.endpoint_id}, *params);
  ASSERT_TRUE(run.ok()) << run.status();
  std::vector<v1::Job> jobs =
      Drive(*agent, [](const v1::Job& j) { return j.seq() == j.step_count(); });
  ASSERT_FALSE(jobs.empty());
  EXPECT_EQ(jobs.back().seq(), jobs.back().step_count());
  int with_key = 0;
  for (const auto& j : jobs) {
    EXPECT_EQ(HasSecret(j), References(j)) << j.step().id();
    with_key += HasSecret(j);
  }
  EXPECT_GT(with_key, 0);
  EXPECT_LT(with_key, static_cast<int>(jobs.size()));
  // The re-verification run that follows.
  std::vector<v1::Job> verify =
      Drive(*agent, [](const v1::Job& j) { return j.seq() == j.step_count(); });
  ASSERT_FALSE(verify.empty());
  for (const auto& j : verify) {
    EXPECT_NE(j.run_id(), jobs.front().run_id());
    EXPECT_FALSE(HasSecret(j)) << j.step().id();
  }
}

// An operator who pastes the key where its name goes must not find it in the
// error, the audit log or the server log.
TEST(SecretsTest, ASecretPassedAsItsNameIsNotEchoed) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  auto params = server.OnboardParams("the-stored-key-value");
  auto token = server.Token(1);
  auto agent = EnrollRaw(server, *token, Win7Inventory("pc"), dir.Sub("a"));
  ASSERT_TRUE(agent.ok());
  (*params)["workspace_key"] = kKey;
  auto run = server.StartRun("mde-downlevel-onboard", {agent->identity.endpoint_id}, *params);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("workspace_key"), std::string::npos) << run.status();
  EXPECT_EQ(run.status().message().find(kKey), std::string::npos) << run.status();
  v1::CreateCampaignRequest campaign;
  campaign.set_name("c");
  campaign.set_plan_name("mde-downlevel-onboard");
  for (const auto& [k, v] : *params) (*campaign.mutable_params())[k] = v;
  v1::Campaign created;
  grpc::ClientContext cctx;
  grpc::Status st = server.Admin()->CreateCampaign(Ctx(&cctx), campaign, &created);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.error_message().find(kKey), std::string::npos) << st.error_message();
  v1::ListAuditResponse audit;
  grpc::ClientContext actx;
  ASSERT_TRUE(server.Admin()->ListAudit(Ctx(&actx), v1::ListAuditRequest(), &audit).ok());
  EXPECT_GT(audit.entries_size(), 0);
  EXPECT_EQ(audit.DebugString().find(kKey), std::string::npos) << audit.DebugString();
  EXPECT_EQ(server.Log().find(kKey), std::string::npos) << server.Log();
}

// After a restart the log redactor already knows every stored secret, and a
// caller's string cannot start a log line of its own.
TEST(SecretsTest, LogsRedactStoredSecretsFromTheStartAndEscapeCallerStrings) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(server.OnboardParams(kKey).ok());
  server.Kill(SIGTERM);
  ASSERT_EQ(server.Wait(), 0);
  ASSERT_TRUE(server.Start().ok());
  auto token = server.Token(2);
  // A hostname is the caller's to choose.
  auto a = EnrollRaw(server, *token, Win7Inventory(std::string("pc-") + kKey), dir.Sub("a"));
  ASSERT_TRUE(a.ok()) << a.status();
  auto b =
      EnrollRaw(server, *token, Win7Inventory("pc\nE 2026-01-01T00:00:00.000Z server: FORGED line"),
                dir.Sub("b"));
  ASSERT_TRUE(b.ok()) << b.status();
  std::string log = server.Log();
  EXPECT_EQ(log.find(kKey), std::string::npos) << log;
  EXPECT_NE(log.find("pc-[REDACTED]"), std::string::npos) << log;
  EXPECT_EQ(log.find("\nE 2026-01-01T00:00:00.000Z server: FORGED"), std::string::npos) << log;
  EXPECT_NE(log.find("FORGED"), std::string::npos) << log;
}

}  // namespace
}  // namespace purser::testing
