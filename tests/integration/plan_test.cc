// The default plans on every simulated profile, end to end: onboarding and
// offboarding, reboots under each policy, prerequisites the plan installs or
// cannot, TLS interception, tampered packages, and the workspace key kept secret.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "google/protobuf/text_format.h"
#include "grpcpp/client_context.h"
#include "purser/v1/simulated.pb.h"
#include "shared/files.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }

  void StartServer(std::vector<std::string> flags) {
    server_ = std::make_unique<TestServer>(dir_.path(), std::move(flags));
    ASSERT_TRUE(server_->Start().ok());
    auto params = server_->OnboardParams(key_);
    ASSERT_TRUE(params.ok()) << params.status();
    params_ = *params;
  }

  // Starts an agent on `profile`; returns its endpoint id once enrolled.
  std::string Agent(const std::string& profile, std::vector<std::string> flags = {}) {
    auto token = server_->TokenFile(1);
    EXPECT_TRUE(token.ok());
    auto agent = StartAgent(*server_, dir_.Sub(profile), *token, profile, std::move(flags));
    EXPECT_TRUE(agent.ok());
    agents_[profile] = std::move(*agent);
    std::string id;
    EXPECT_TRUE(WaitUntil([&] {
      auto list = server_->List();
      if (!list.ok()) return false;
      for (const auto& e : *list) {
        if (e.hostname() == profile) id = e.id();
      }
      return !id.empty();
    }));
    return id;
  }

  v1::StartRunResponse Run(const std::string& plan, const std::vector<std::string>& ids,
                           std::map<std::string, std::string> params,
                           v1::RebootPolicy::Mode reboot = v1::RebootPolicy::MODE_NOW,
                           int reboot_timeout_seconds = 0) {
    v1::StartRunRequest req;
    req.set_plan_name(plan);
    for (const auto& id : ids) req.add_endpoint_ids(id);
    for (const auto& [k, v] : params) (*req.mutable_params())[k] = v;
    req.mutable_reboot_policy()->set_mode(reboot);
    req.mutable_reboot_policy()->set_reboot_timeout_seconds(reboot_timeout_seconds);
    v1::StartRunResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = server_->Admin()->StartRun(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }

  v1::GetEndpointResponse WaitFor(const std::string& id, v1::EndpointState state) {
    v1::GetEndpointResponse last;
    bool reached = WaitUntil(
        [&] {
          auto e = server_->Get(id);
          if (e.ok()) last = *e;
          return e.ok() && e->endpoint().state() == state;
        },
        absl::Seconds(60));
    EXPECT_TRUE(reached) << "endpoint " << id << " is " << last.endpoint().ShortDebugString();
    return last;
  }

  v1::SimMachine Machine(const std::string& profile) {
    v1::SimMachine m;
    google::protobuf::TextFormat::ParseFromString(Slurp(dir_.Sub(profile) + "/machine.textproto"),
                                                  &m);
    return m;
  }

  static const v1::JobInfo* Job(const v1::GetEndpointResponse& e, const std::string& step_prefix) {
    for (const auto& j : e.jobs()) {
      if (j.step_id().rfind(step_prefix, 0) == 0) return &j;
    }
    return nullptr;
  }

  const std::string key_ = "plan-test-workspace-key-7c1f0e";
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::map<std::string, std::string> params_;
  std::map<std::string, std::unique_ptr<Process>> agents_;
};

TEST_F(PlanTest, EveryProfileOnboardsAndOffboards) {
  const std::vector<std::string> profiles = {"win7-sp1-x64-ent",
                                             "win7-sp1-x86-pro",
                                             "win81-x64-ent",
                                             "win81-x86-pro",
                                             "win2008r2-sp1-x64",
                                             "win7-sp1-x64-ent-onboarded",
                                             "win7-sp1-x64-ent-other-mma"};
  std::map<std::string, std::string> ids;
  for (const auto& p : profiles) ids[p] = Agent(p);
  std::vector<std::string> all;
  for (const auto& [p, id] : ids) all.push_back(id);
  EXPECT_EQ(Run("mde-downlevel-onboard", all, params_).started_size(), 7);
  for (const auto& [p, id] : ids) {
    SCOPED_TRACE(p);
    auto e = WaitFor(id, v1::ENDPOINT_STATE_ONBOARDED);
    v1::SimMachine m = Machine(p);
    EXPECT_TRUE(m.mma_installed());
    bool has_ws = false;
    for (const auto& w : m.workspaces()) has_ws |= w.id() == "test-workspace";
    EXPECT_TRUE(has_ws) << m.ShortDebugString();
    ASSERT_NE(Job(*server_->Get(id), "verify-workspace"), nullptr);
    EXPECT_EQ(Job(*server_->Get(id), "verify-workspace")->state(), v1::JOB_STATE_SUCCEEDED);
  }
  // MMA found installed: the install step is skipped and the Defender
  // workspace added to it, beside the workspaces it already reports to.
  for (const char* p : {"win7-sp1-x64-ent-onboarded", "win7-sp1-x64-ent-other-mma"}) {
    auto pre = server_->Get(ids[p]);
    ASSERT_NE(Job(*pre, "install-mma"), nullptr) << p;
    EXPECT_EQ(Job(*pre, "install-mma")->state(), v1::JOB_STATE_SKIPPED) << p;
    EXPECT_EQ(Job(*pre, "mma-add-workspace")->state(), v1::JOB_STATE_SUCCEEDED) << p;
    EXPECT_EQ(Machine(p).workspaces_size(), 2) << p;
  }
  EXPECT_EQ(Job(*server_->Get(ids["win7-sp1-x64-ent"]), "install-mma")->state(),
            v1::JOB_STATE_SUCCEEDED);

  // Offboarding removes our workspace only; another team's stays. (The
  // machine onboarded by hand keeps a Defender workspace of its own, so its
  // sensor keeps running: it is not offboarded here.)
  all.erase(std::find(all.begin(), all.end(), ids["win7-sp1-x64-ent-onboarded"]));
  EXPECT_EQ(Run("mde-downlevel-offboard", all, {{"workspace_id", "test-workspace"}}).started_size(),
            6);
  for (const auto& [p, id] : ids) {
    SCOPED_TRACE(p);
    if (p == "win7-sp1-x64-ent-onboarded") continue;
    WaitFor(id, v1::ENDPOINT_STATE_OFFBOARDED);
    v1::SimMachine m = Machine(p);
    for (const auto& w : m.workspaces()) EXPECT_NE(w.id(), "test-workspace");
    EXPECT_EQ(m.workspaces_size(), p == "win7-sp1-x64-ent-other-mma" ? 1 : 0);
  }
}

TEST_F(PlanTest, OffboardingCanUninstallMma) {
  std::string id = Agent("win81-x64-ent");
  Run("mde-downlevel-onboard", {id}, params_);
  WaitFor(id, v1::ENDPOINT_STATE_ONBOARDED);
  Run("mde-downlevel-offboard", {id},
      {{"workspace_id", "test-workspace"}, {"uninstall_mma", "true"}, {"keep_mma", "false"}});
  WaitFor(id, v1::ENDPOINT_STATE_OFFBOARDED);
  EXPECT_FALSE(Machine("win81-x64-ent").mma_installed());
}

TEST_F(PlanTest, Sha2SupportIsInstalledBeforeMma) {
  std::string id = Agent("win2008r2-sp1-x64");
  Run("mde-downlevel-onboard", {id}, params_);
  auto e = WaitFor(id, v1::ENDPOINT_STATE_ONBOARDED);
  const v1::JobInfo* sha2 = Job(e, "sha2-kb4474419");
  const v1::JobInfo* mma = Job(e, "install-mma");
  ASSERT_TRUE(sha2 && mma);
  EXPECT_EQ(sha2->exit_code(), 3010);  // installed, needed the reboot it got
  EXPECT_LT(sha2->seq(), mma->seq());
  v1::SimMachine m = Machine("win2008r2-sp1-x64");
  int sha2_at = -1, mma_at = -1;
  for (int i = 0; i < m.install_log_size(); ++i) {
    if (m.install_log(i).what() == "KB4474419") sha2_at = i;
    if (m.install_log(i).what() == "Microsoft Monitoring Agent") mma_at = i;
  }
  EXPECT_GE(sha2_at, 0);
  EXPECT_GT(mma_at, sha2_at);
}

TEST_F(PlanTest, FailingSha2UpdateStopsBeforeMmaIsTouched) {
  std::string id = Agent("win7-sp1-x64-ent", {"--sim_faults=failing_kbs: \"KB4474419\""});
  // The first failure is recorded and attempt 2 queued behind its 30 s backoff;
  // MMA, later in the plan, is never tried.
  Run("mde-downlevel-onboard", {id}, params_);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto e = server_->Get(id);
        return e.ok() && Job(*e, "sha2-kb4474419") && Job(*e, "sha2-kb4474419")->attempt() >= 2;
      },
      absl::Seconds(60)));
  auto e = server_->Get(id);
  EXPECT_NE(e->endpoint().state_detail().find("sha2-kb4474419"), std::string::npos)
      << e->endpoint().state_detail();
  EXPECT_EQ(Job(*e, "sha2-kb4474419")->exit_code(), -2147023293);
  EXPECT_EQ(Job(*e, "install-mma")->state(), v1::JOB_STATE_PENDING);
  EXPECT_FALSE(Machine("win7-sp1-x64-ent").mma_installed());
}

TEST_F(PlanTest, MissingPrerequisiteThePlanCannotInstallBlocks) {
  // KB3154518 does not apply here and .NET is 3.5: TLS support cannot be had.
  std::string id = Agent("win7-sp1-x64-ent", {"--sim_faults=not_applicable_kbs: \"KB3154518\""});
  Run("mde-downlevel-onboard", {id}, params_);
  auto e = WaitFor(id, v1::ENDPOINT_STATE_BLOCKED);
  EXPECT_NE(e.endpoint().state_detail().find("KB3154518"), std::string::npos)
      << e.endpoint().state_detail();
  EXPECT_EQ(e.endpoint().error_class(), v1::ERROR_CLASS_PREREQUISITE);
  EXPECT_FALSE(Machine("win7-sp1-x64-ent").mma_installed());
}

TEST_F(PlanTest, TlsInterceptionIsDetected) {
  std::string id = Agent("win81-x64-ent", {"--sim_faults=tls_interception: true"});
  Run("mde-downlevel-onboard", {id}, params_);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto e = server_->Get(id);
        return e.ok() && e->endpoint().error_class() == v1::ERROR_CLASS_TLS_INTERCEPTION;
      },
      absl::Seconds(30)));
  auto e = server_->Get(id);
  EXPECT_NE(e->endpoint().state_detail().find("TLS interception"), std::string::npos);
  EXPECT_NE(e->endpoint().state_detail().find("verify-connectivity"), std::string::npos);
  EXPECT_EQ(e->endpoint().state_detail().find("(proxy )"), std::string::npos)
      << "no proxy is set: none is named";
  // Its own class, in the job and the history too, so retries and thresholds can target it.
  bool in_history = false;
  v1::GetEndpointHistoryRequest hreq;
  hreq.set_id(id);
  v1::EndpointHistory h;
  grpc::ClientContext ctx;
  ASSERT_TRUE(server_->Admin()->GetEndpointHistory(&ctx, hreq, &h).ok());
  for (const auto& entry : h.entries()) {
    in_history |= entry.error_class() == v1::ERROR_CLASS_TLS_INTERCEPTION;
  }
  EXPECT_TRUE(in_history) << h.DebugString();
  EXPECT_EQ(Job(*e, "verify-connectivity")->error_class(), v1::ERROR_CLASS_TLS_INTERCEPTION);
}

TEST_F(PlanTest, TamperedPackageIsRefused) {
  // Corrupt every stored package on the server's disk.
  std::string dir = server_->data_dir() + "/artifacts";
  DIR* d = ::opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* f = ::readdir(d)) {
    std::string name = f->d_name;
    if (name.size() == 64) {
      ASSERT_TRUE(WriteFileAtomic(dir + "/" + name, "tampered").ok());
    }
  }
  ::closedir(d);
  std::string id = Agent("win81-x64-ent");
  Run("mde-downlevel-onboard", {id}, params_);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto e = server_->Get(id);
        return e.ok() && e->endpoint().error_class() == v1::ERROR_CLASS_ARTIFACT;
      },
      absl::Seconds(30)));
  auto e = server_->Get(id);
  EXPECT_NE(e->endpoint().state_detail().find("refused"), std::string::npos)
      << e->endpoint().state_detail();
  EXPECT_EQ(Machine("win81-x64-ent").install_log_size(), 0);
}

// An agent restarted mid-download resumes from the bytes it has, and keeps
// only a file that verifies.
TEST_F(PlanTest, DownloadsResumeFromAPartialFile) {
  std::string data;
  for (int i = 0; i < 20000; ++i) data += "chunk-" + std::to_string(i) + ";";  // ~200 KiB
  data += std::string(400 * 1024, 'z');
  auto info = server_->Upload("MMASetup-AMD64.exe", data);
  ASSERT_TRUE(info.ok()) << info.status();
  // An interrupted earlier download left the first 300 KiB.
  std::string cache = dir_.Sub("win81-x64-ent/cache/");
  ASSERT_TRUE(MakeDirs(cache).ok());
  ASSERT_TRUE(
      WriteFileAtomic(cache + info->sha256() + ".partial", data.substr(0, 300 * 1024)).ok());
  std::string id = Agent("win81-x64-ent");
  Run("mde-downlevel-onboard", {id}, params_);
  WaitFor(id, v1::ENDPOINT_STATE_ONBOARDED);
  EXPECT_EQ(Slurp(cache + info->sha256()), data);
  EXPECT_FALSE(PathExists(cache + info->sha256() + ".partial"));
  EXPECT_NE(Slurp(dir_.Sub("win81-x64-ent.log")).find("staged MMASetup-AMD64.exe"),
            std::string::npos);
}

TEST_F(PlanTest, OperatorRebootPolicyWaitsForPermission) {
  std::string id = Agent("win7-sp1-x64-ent");
  Run("mde-downlevel-onboard", {id}, params_, v1::RebootPolicy::MODE_OPERATOR);
  auto e = WaitFor(id, v1::ENDPOINT_STATE_WAITING_REBOOT);
  ASSERT_TRUE(WaitUntil([&] {
    auto now = server_->Get(id);
    return now->endpoint().state_detail().find("operator") != std::string::npos;
  }));
  EXPECT_EQ(Machine("win7-sp1-x64-ent").boot_count(), 0);
  int boots = 0;
  // Each reboot the plan needs is allowed by hand; the run then completes.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto now = server_->Get(id);
        if (!now.ok()) return false;
        if (now->endpoint().state() == v1::ENDPOINT_STATE_ONBOARDED) return true;
        if (now->endpoint().state_detail().find("operator") != std::string::npos) {
          v1::AllowRebootRequest req;
          req.add_endpoint_ids(id);
          v1::AllowRebootResponse resp;
          grpc::ClientContext ctx;
          server_->Admin()->AllowReboot(&ctx, req, &resp);
          ++boots;
          absl::SleepFor(absl::Milliseconds(300));
        }
        return false;
      },
      absl::Seconds(60)));
  EXPECT_GE(boots, 3);  // KB4074598, KB3154518, KB4474419
  EXPECT_EQ(Machine("win7-sp1-x64-ent").boot_count(), 3);
}

// A machine that goes down for a reboot is offline, not failed, until the
// reboot deadline passes: then its run fails and says why.
TEST_F(PlanTest, ALostRebootFailsTheRunAtItsDeadline) {
  server_->Kill(SIGTERM);
  server_->Wait();
  StartServer({"--offline_after_ms=1500"});
  std::string id = Agent("win7-sp1-x64-ent", {"--sim_faults=lose_reboot: true"});
  Run("mde-downlevel-onboard", {id}, params_, v1::RebootPolicy::MODE_NOW, 6);
  EXPECT_EQ(agents_["win7-sp1-x64-ent"]->Wait(absl::Seconds(30)), 3);  // never came back
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto e = server_->Get(id);
        return e.ok() && !e->endpoint().online();
      },
      absl::Seconds(20)));
  auto e = server_->Get(id);
  if (e->endpoint().state() != v1::ENDPOINT_STATE_FAILED) {
    EXPECT_EQ(e->endpoint().state(), v1::ENDPOINT_STATE_WAITING_REBOOT);  // offline is not failed
  }
  EXPECT_TRUE(Machine("win7-sp1-x64-ent").down());
  auto failed = WaitFor(id, v1::ENDPOINT_STATE_FAILED);
  EXPECT_EQ(failed.endpoint().error_class(), v1::ERROR_CLASS_REBOOT_LOST);
  EXPECT_NE(failed.endpoint().state_detail().find("not back after"), std::string::npos)
      << failed.endpoint().state_detail();
}

TEST_F(PlanTest, WorkspaceKeyStaysSecret) {
  std::string id = Agent("win7-sp1-x86-pro");
  Run("mde-downlevel-onboard", {id}, params_);
  WaitFor(id, v1::ENDPOINT_STATE_ONBOARDED);
  auto e = server_->Get(id);
  EXPECT_EQ(e->DebugString().find(key_), std::string::npos);
  for (const char* cmd :
       {"endpoints list -o json", "endpoints list", "plans list -o json", "artifact list"}) {
    std::string out;
    EXPECT_EQ(RunCtl(*server_, cmd, &out), 0) << cmd << ": " << out;
    EXPECT_EQ(out.find(key_), std::string::npos) << cmd;
  }
  std::string detail;
  EXPECT_EQ(RunCtl(*server_, "endpoints get " + id + " -o json", &detail), 0);
  EXPECT_NE(detail.find("install-mma-x86"), std::string::npos) << detail;
  EXPECT_EQ(detail.find(key_), std::string::npos);
  server_->Kill(SIGTERM);
  ASSERT_EQ(server_->Wait(), 0);
  std::vector<std::string> files = {server_->data_dir() + "/purser.db", dir_.Sub("server.0.log"),
                                    dir_.Sub("win7-sp1-x86-pro.log"),
                                    dir_.Sub("win7-sp1-x86-pro") + "/journal",
                                    dir_.Sub("win7-sp1-x86-pro") + "/machine.textproto"};
  for (const auto& f : files) EXPECT_EQ(Slurp(f).find(key_), std::string::npos) << f;
  // The files searched are real: the agent's log shows the install it ran.
  EXPECT_NE(Slurp(dir_.Sub("win7-sp1-x86-pro.log")).find("install-mma-x86"), std::string::npos);
}

}  // namespace
}  // namespace purser::testing

namespace purser::testing {
namespace {

grpc::Status UploadPlan(const TestServer& server, const std::string& filename,
                        const std::string& text) {
  v1::UploadPlanRequest req;
  req.set_filename(filename);
  req.set_text(text);
  v1::Plan plan;
  grpc::ClientContext ctx;
  return server.Admin()->UploadPlan(&ctx, req, &plan);
}

std::string SmallPlan(const std::string& name, const std::string& description) {
  return "name: \"" + name + "\" purpose: PLAN_PURPOSE_ONBOARD description: \"" + description +
         "\" steps { id: \"check\" kind: STEP_KIND_VERIFY platforms { product: "
         "OS_PRODUCT_WINDOWS_7 "
         "} check_service { name: \"HealthService\" } }";
}

// A plan's name becomes a file name: it must never leave the plans directory.
TEST(PlanUploadTest, NamesThatArePathsAreRefused) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  for (std::string name : {"../escaped", "a/b", "/tmp/abs", ".hidden", "UPPER"}) {
    grpc::Status st = UploadPlan(server, "p.textproto", SmallPlan(name, "x"));
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
    EXPECT_NE(st.error_message().find("name"), std::string::npos) << st.error_message();
  }
  EXPECT_FALSE(PathExists(dir.Sub("escaped.textproto")));
  EXPECT_FALSE(PathExists(dir.Sub("plans/a")));
}

// Uploaded once as text and again as JSON: one file stays, and the server
// starts again with the newer version.
TEST(PlanUploadTest, AReuploadInTheOtherFormatReplacesTheFile) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(UploadPlan(server, "mine.textproto", SmallPlan("mine", "first")).ok());
  std::string json =
      R"({"name": "mine", "purpose": "PLAN_PURPOSE_ONBOARD", "description": "second",
          "steps": [{"id": "check", "kind": "STEP_KIND_VERIFY",
                     "platforms": [{"product": "OS_PRODUCT_WINDOWS_7"}],
                     "checkService": {"name": "HealthService"}}]})";
  grpc::Status st = UploadPlan(server, "mine.json", json);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(PathExists(dir.Sub("plans/mine.json")));
  EXPECT_FALSE(PathExists(dir.Sub("plans/mine.textproto")));
  server.Kill(SIGTERM);
  ASSERT_EQ(server.Wait(), 0);
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  v1::ListPlansResponse plans;
  grpc::ClientContext ctx;
  ASSERT_TRUE(server.Admin()->ListPlans(&ctx, v1::ListPlansRequest(), &plans).ok());
  int found = 0;
  for (const auto& p : plans.plans()) {
    if (p.name() != "mine") continue;
    ++found;
    EXPECT_EQ(p.description(), "second");
  }
  EXPECT_EQ(found, 1);
}

}  // namespace
}  // namespace purser::testing
