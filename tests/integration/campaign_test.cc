// Campaigns over a fleet of real agent processes (30 simulated endpoints:
// Windows 7 and 8.1 of both architectures, and six Server 2008 R2 machines
// that the campaign-test plan fails because they run no Defender AV).
#include <gtest/gtest.h>

#include "google/protobuf/text_format.h"
#include "grpcpp/client_context.h"
#include "purser/v1/simulated.pb.h"
#include "shared/files.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

using Action = v1::ActOnCampaignRequest;

class CampaignTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> flags = {}) {
    flags.push_back("--campaign_tick_ms=100");
    server_ = std::make_unique<TestServer>(dir_.path(), flags);
    ASSERT_TRUE(server_->Start().ok());
  }

  std::string Token(int uses, const std::map<std::string, std::string>& labels) {
    v1::CreateEnrollmentTokenRequest req;
    req.set_max_uses(uses);
    for (const auto& [k, v] : labels) (*req.mutable_labels())[k] = v;
    v1::CreateEnrollmentTokenResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(server_->Admin()->CreateEnrollmentToken(&ctx, req, &resp).ok());
    std::string path = dir_.Sub("token-" + std::to_string(tokens_++));
    EXPECT_TRUE(WriteFileAtomic(path, resp.token(), 0600).ok());
    return path;
  }

  // `good` Windows 7/8.1 agents and `failing` Server 2008 R2 ones.
  void Fleet(int good, int failing, std::vector<std::string> agent_flags = {},
             const std::map<std::string, std::string>& labels = {{"fleet", "test"}}) {
    static const char* kGood[] = {"win7-sp1-x64-ent", "win7-sp1-x86-pro", "win81-x64-ent",
                                  "win81-x86-pro"};
    std::string token = Token(good + failing, labels);
    for (int i = 0; i < good + failing; ++i) {
      std::string profile = i < good ? kGood[i % 4] : "win2008r2-sp1-x64";
      std::string name = "a" + std::to_string(agents_.size());
      auto a = StartAgent(*server_, dir_.Sub(name), token, profile, agent_flags);
      ASSERT_TRUE(a.ok());
      agents_.push_back(std::move(*a));
    }
    size_t want = agents_.size();
    ASSERT_TRUE(WaitUntil(
        [&] {
          auto l = server_->List();
          return l.ok() && l->size() == want;
        },
        absl::Seconds(60)));
  }

  v1::Campaign Create(v1::CreateCampaignRequest req) {
    if (req.name().empty()) req.set_name("test");
    if (req.plan_name().empty()) req.set_plan_name("campaign-test");
    v1::Campaign c;
    grpc::ClientContext ctx;
    grpc::Status st = server_->Admin()->CreateCampaign(&ctx, req, &c);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return c;
  }

  v1::GetCampaignResponse Get(const std::string& id) {
    v1::GetCampaignRequest req;
    req.set_id(id);
    v1::GetCampaignResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(server_->Admin()->GetCampaign(&ctx, req, &resp).ok());
    return resp;
  }

  v1::Campaign Act(const std::string& id, Action::Action action,
                   v1::ErrorClass cls = v1::ERROR_CLASS_UNSPECIFIED) {
    v1::ActOnCampaignRequest req;
    req.set_id(id);
    req.set_action(action);
    req.set_error_class(cls);
    v1::Campaign c;
    grpc::ClientContext ctx;
    grpc::Status st = server_->Admin()->ActOnCampaign(&ctx, req, &c);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return c;
  }

  v1::GetCampaignResponse WaitState(const std::string& id, v1::CampaignState state,
                                    absl::Duration timeout = absl::Seconds(60)) {
    v1::GetCampaignResponse last;
    bool ok = WaitUntil(
        [&] {
          last = Get(id);
          return last.campaign().state() == state;
        },
        timeout);
    EXPECT_TRUE(ok) << "campaign is " << last.campaign().ShortDebugString();
    return last;
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::vector<std::unique_ptr<Process>> agents_;
  int tokens_ = 0;
};

TEST_F(CampaignTest, CanaryFirstThenWavesWithinMaxInFlight) {
  Start();
  Fleet(24, 6, {"--sim_faults=slow_step_ms: 300"});
  v1::CreateCampaignRequest req;
  req.mutable_target()->add_products(v1::OS_PRODUCT_WINDOWS_7);
  req.mutable_target()->add_products(v1::OS_PRODUCT_WINDOWS_8_1);
  req.mutable_policy()->set_canary_count(2);
  req.mutable_policy()->add_waves()->set_percent(50);
  req.mutable_policy()->add_waves()->set_percent(100);
  req.mutable_policy()->set_max_in_flight(4);
  v1::Campaign c = Create(req);
  EXPECT_EQ(c.counters().members(), 24);
  int max_running = 0;
  bool order_ok = true;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto g = Get(c.id());
        std::map<int, bool> wave_finished, wave_started;
        for (int w = 0; w <= 2; ++w) wave_finished[w] = true;
        int running = 0;
        for (const auto& m : g.members()) {
          bool started = m.state() != v1::MEMBER_STATE_PENDING;
          bool finished =
              m.state() == v1::MEMBER_STATE_DONE || m.state() == v1::MEMBER_STATE_FAILED;
          running += m.state() == v1::MEMBER_STATE_RUNNING;
          wave_started[m.wave()] = wave_started[m.wave()] || started;
          wave_finished[m.wave()] = wave_finished[m.wave()] && finished;
        }
        max_running = std::max(max_running, running);
        if (wave_started[1] && !wave_finished[0]) order_ok = false;
        if (wave_started[2] && !wave_finished[1]) order_ok = false;
        return g.campaign().state() == v1::CAMPAIGN_STATE_COMPLETED;
      },
      absl::Seconds(90)));
  EXPECT_TRUE(order_ok) << "a wave started before the previous one finished";
  EXPECT_LE(max_running, 4);
  EXPECT_GE(max_running, 2);
  auto g = Get(c.id());
  EXPECT_EQ(g.campaign().counters().done(), 24);
  ASSERT_EQ(g.campaign().waves_size(), 3);
  EXPECT_EQ(g.campaign().waves(0).members(), 2);
  EXPECT_EQ(g.campaign().waves(1).members(), 11);
}

// A plan uploaded under the same name after the canary passed must not reach
// the waves: they run the version the canary proved.
TEST_F(CampaignTest, WavesRunThePlanVersionTheCanaryRan) {
  Start();
  Fleet(4, 0);
  v1::CreateCampaignRequest req;
  req.mutable_policy()->set_canary_count(1);
  req.mutable_policy()->set_approve_after_canary(true);
  v1::Campaign c = Create(req);
  EXPECT_EQ(c.plan_sha256().size(), 64u);
  auto waiting = WaitState(c.id(), v1::CAMPAIGN_STATE_WAITING_APPROVAL);
  v1::UploadPlanRequest up;
  up.set_filename("campaign-test.textproto");
  up.set_text(R"(name: "campaign-test" purpose: PLAN_PURPOSE_ONBOARD
                 steps { id: "untested-change" kind: STEP_KIND_VERIFY
                         platforms { product: OS_PRODUCT_WINDOWS_7 }
                         platforms { product: OS_PRODUCT_WINDOWS_8_1 }
                         check_file { path: "C:\never-there" } })");
  v1::Plan uploaded;
  grpc::ClientContext uctx;
  ASSERT_TRUE(server_->Admin()->UploadPlan(&uctx, up, &uploaded).ok());
  Act(c.id(), Action::ACTION_APPROVE);
  auto done = WaitState(c.id(), v1::CAMPAIGN_STATE_COMPLETED);
  EXPECT_EQ(done.campaign().counters().done(), 4) << done.campaign().ShortDebugString();
  EXPECT_EQ(done.campaign().plan_sha256(), c.plan_sha256());
  for (const auto& m : done.members()) {
    auto e = server_->Get(m.endpoint_id());
    ASSERT_TRUE(e.ok());
    for (const auto& j : e->jobs()) EXPECT_EQ(j.step_id(), "require-windefend") << m.wave();
  }
}

TEST_F(CampaignTest, AutoPausesExactlyAtTheThresholdThenResumes) {
  Start();
  Fleet(24, 6);
  v1::CreateCampaignRequest req;
  req.mutable_policy()->set_max_in_flight(1);
  req.mutable_policy()->mutable_failure_threshold()->set_max_failures(2);
  req.mutable_policy()->mutable_failure_threshold()->set_min_sample(1);
  v1::Campaign c = Create(req);
  EXPECT_EQ(c.counters().members(), 30);
  auto paused = WaitState(c.id(), v1::CAMPAIGN_STATE_PAUSED);
  EXPECT_NE(paused.campaign().state_reason().find("failure threshold"), std::string::npos)
      << paused.campaign().state_reason();
  EXPECT_EQ(paused.campaign().counters().failed(), 2);
  EXPECT_EQ(paused.campaign().counters().running(), 0);
  int started = paused.campaign().counters().members() - paused.campaign().counters().pending();
  absl::SleepFor(absl::Seconds(1));
  auto still = Get(c.id());
  EXPECT_EQ(still.campaign().counters().members() - still.campaign().counters().pending(), started)
      << "an endpoint started after the pause";
  EXPECT_EQ(Act(c.id(), Action::ACTION_RESUME).state(), v1::CAMPAIGN_STATE_RUNNING);
  ASSERT_TRUE(WaitUntil([&] {
    auto g = Get(c.id());
    return g.campaign().counters().members() - g.campaign().counters().pending() > started;
  }));
}

TEST_F(CampaignTest, RetryFailedRetriesOnlyTheFailed) {
  Start();
  Fleet(24, 6);
  v1::Campaign c = Create({});
  auto done = WaitState(c.id(), v1::CAMPAIGN_STATE_COMPLETED);
  EXPECT_EQ(done.campaign().counters().failed(), 6);
  EXPECT_EQ(done.campaign().counters().failed_by_class().at("CHECK_FAILED"), 6);
  std::map<std::string, std::string> runs;
  for (const auto& m : done.members()) runs[m.endpoint_id()] = m.run_id();
  Act(c.id(), Action::ACTION_RETRY_FAILED, v1::ERROR_CLASS_TIMEOUT);  // none of that class
  EXPECT_EQ(Get(c.id()).campaign().counters().failed(), 6);
  Act(c.id(), Action::ACTION_RETRY_FAILED);
  auto again = WaitState(c.id(), v1::CAMPAIGN_STATE_COMPLETED);
  int rerun = 0;
  for (const auto& m : again.members()) {
    bool failed = m.state() == v1::MEMBER_STATE_FAILED;
    if (runs[m.endpoint_id()] != m.run_id()) {
      ++rerun;
      EXPECT_TRUE(failed) << "a member that had not failed was run again";
    }
  }
  EXPECT_EQ(rerun, 6);
}

TEST_F(CampaignTest, CancelLeavesNothingStuck) {
  Start();
  Fleet(8, 0, {"--sim_faults=slow_step_ms: 400"});
  auto params = server_->OnboardParams("campaign-cancel-key");
  ASSERT_TRUE(params.ok());
  v1::CreateCampaignRequest req;
  req.set_plan_name("mde-downlevel-onboard");
  for (const auto& [k, v] : *params) (*req.mutable_params())[k] = v;
  req.mutable_policy()->set_max_in_flight(4);
  v1::Campaign c = Create(req);
  ASSERT_TRUE(WaitUntil([&] { return Get(c.id()).campaign().counters().running() >= 3; }));
  EXPECT_EQ(Act(c.id(), Action::ACTION_CANCEL).state(), v1::CAMPAIGN_STATE_CANCELLED);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto list = server_->List();
        if (!list.ok()) return false;
        for (const auto& e : *list) {
          if (e.state() == v1::ENDPOINT_STATE_QUEUED ||
              e.state() == v1::ENDPOINT_STATE_IN_PROGRESS ||
              e.state() == v1::ENDPOINT_STATE_WAITING_REBOOT) {
            return false;
          }
        }
        return true;
      },
      absl::Seconds(30)));
  auto g = Get(c.id());
  EXPECT_EQ(g.campaign().counters().running() + g.campaign().counters().pending(), 0);
  int interrupted = 0;
  for (const auto& m : g.members()) {
    auto e = server_->Get(m.endpoint_id());
    std::string applied;
    for (const auto& j : e->jobs()) {
      EXPECT_NE(j.state(), v1::JOB_STATE_QUEUED);
      EXPECT_NE(j.state(), v1::JOB_STATE_LEASED);
      EXPECT_NE(j.state(), v1::JOB_STATE_PENDING);
      if (j.state() == v1::JOB_STATE_SUCCEEDED && j.kind() != v1::STEP_KIND_VERIFY) {
        applied = j.step_id();
      }
    }
    // A cancelled run that changed the machine says what it applied.
    if (e->endpoint().state() == v1::ENDPOINT_STATE_ONBOARDED) continue;
    if (applied.empty()) {
      EXPECT_EQ(e->endpoint().state(), v1::ENDPOINT_STATE_ENROLLED) << e->endpoint().DebugString();
    } else {
      ++interrupted;
      EXPECT_EQ(e->endpoint().state(), v1::ENDPOINT_STATE_INTERRUPTED)
          << e->endpoint().DebugString();
      EXPECT_NE(e->endpoint().state_detail().find(applied), std::string::npos)
          << e->endpoint().state_detail();
    }
  }
  EXPECT_GT(interrupted, 0);
  // Cancelled is final: nothing starts afterwards.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(Get(c.id()).campaign().counters().running(), 0);
}

TEST_F(CampaignTest, DeadlineExpiresTheCampaign) {
  Start();
  Fleet(6, 0, {"--sim_faults=slow_step_ms: 600"});
  v1::CreateCampaignRequest req;
  req.mutable_policy()->set_max_in_flight(1);
  req.mutable_policy()->set_deadline_unix_ms(absl::ToUnixMillis(absl::Now() + absl::Seconds(1)));
  v1::Campaign c = Create(req);
  auto g = WaitState(c.id(), v1::CAMPAIGN_STATE_EXPIRED);
  EXPECT_NE(g.campaign().state_reason().find("deadline"), std::string::npos);
  EXPECT_GE(g.campaign().counters().cancelled(), 3);
  EXPECT_EQ(g.campaign().counters().pending(), 0);
}

TEST_F(CampaignTest, EndpointsEnrollingLaterJoinADynamicCampaign) {
  Start();
  Fleet(2, 0);
  v1::CreateCampaignRequest req;
  (*req.mutable_target()->mutable_labels())["site"] = "lyon";
  req.mutable_target()->set_dynamic(true);
  req.mutable_target()->set_dynamic_cap(5);
  v1::Campaign c = Create(req);
  EXPECT_EQ(c.counters().members(), 0);  // the first two are not in Lyon
  Fleet(1, 0, {}, {{"site", "lyon"}});
  ASSERT_TRUE(WaitUntil([&] { return Get(c.id()).campaign().counters().done() == 1; }));
  EXPECT_EQ(Get(c.id()).campaign().counters().members(), 1);
}

TEST_F(CampaignTest, OfflineIsCountedAsOfflineNotFailed) {
  Start({"--offline_after_ms=1000"});
  Fleet(3, 0);
  agents_[0]->Signal(SIGKILL);
  agents_[0]->Wait();
  absl::SleepFor(absl::Milliseconds(1500));
  v1::Campaign c = Create({});
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto k = Get(c.id()).campaign().counters();
        return k.done() == 2 && k.offline() == 1;
      },
      absl::Seconds(30)))
      << Get(c.id()).campaign().counters().ShortDebugString();
  auto k = Get(c.id()).campaign().counters();
  EXPECT_EQ(k.failed(), 0);
  EXPECT_EQ(k.running(), 1);
  EXPECT_EQ(Get(c.id()).campaign().state(), v1::CAMPAIGN_STATE_RUNNING);
}

// Someone uninstalls MMA from an onboarded machine while its agent is down.
class DriftTest : public CampaignTest {
 protected:
  std::string OnboardThenRemoveMma(std::vector<std::string> server_flags) {
    server_flags.push_back("--reverify_every_ms=1000");
    Start(server_flags);
    Fleet(1, 0);
    auto params = server_->OnboardParams("drift-test-key");
    EXPECT_TRUE(params.ok());
    auto run = server_->StartRun("mde-downlevel-onboard", {}, *params);
    EXPECT_TRUE(run.ok());
    std::string id = run->started(0);
    EXPECT_TRUE(WaitUntil(
        [&] { return server_->Get(id)->endpoint().state() == v1::ENDPOINT_STATE_ONBOARDED; }));
    agents_[0]->Signal(SIGTERM);
    agents_[0]->Wait();
    auto again = StartAgent(*server_, dir_.Sub("a0"), "", "win81-x64-ent",
                            {"--sim_faults=mma_removed: true"});
    EXPECT_TRUE(again.ok());
    agents_[0] = std::move(*again);
    return id;
  }
};

TEST_F(DriftTest, FailedReverifyMarksTheEndpointDrifted) {
  std::string id = OnboardThenRemoveMma({});
  ASSERT_TRUE(
      WaitUntil([&] { return server_->Get(id)->endpoint().state() == v1::ENDPOINT_STATE_DRIFTED; },
                absl::Seconds(30)));
  auto e = server_->Get(id)->endpoint();
  EXPECT_NE(e.state_detail().find("verify-workspace"), std::string::npos) << e.state_detail();
  EXPECT_NE(e.state_detail().find("not configured in MMA"), std::string::npos) << e.state_detail();
  absl::SleepFor(absl::Seconds(2));  // without remediation it stays drifted
  EXPECT_EQ(server_->Get(id)->endpoint().state(), v1::ENDPOINT_STATE_DRIFTED);
}

TEST_F(DriftTest, DriftIsRemediatedWhenThePolicySaysSo) {
  std::string id = OnboardThenRemoveMma({"--remediate_drift"});
  bool seen_drifted = false;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto e = server_->Get(id)->endpoint();
        seen_drifted |= e.state() == v1::ENDPOINT_STATE_DRIFTED;
        return seen_drifted && e.state() == v1::ENDPOINT_STATE_ONBOARDED;
      },
      absl::Seconds(30)));
  v1::SimMachine m;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      Slurp(dir_.Sub("a0") + "/machine.textproto"), &m));
  EXPECT_TRUE(m.mma_installed());
  int installs = 0;
  for (const auto& i : m.install_log()) installs += i.what() == "Microsoft Monitoring Agent";
  EXPECT_EQ(installs, 2);
}

TEST_F(CampaignTest, OffboardingCampaign) {
  Start();
  Fleet(4, 0);
  auto params = server_->OnboardParams("offboard-campaign-key");
  ASSERT_TRUE(params.ok());
  v1::CreateCampaignRequest on;
  on.set_plan_name("mde-downlevel-onboard");
  for (const auto& [k, v] : *params) (*on.mutable_params())[k] = v;
  WaitState(Create(on).id(), v1::CAMPAIGN_STATE_COMPLETED);
  v1::CreateCampaignRequest off;
  off.set_name("offboard");
  off.set_plan_name("mde-downlevel-offboard");
  (*off.mutable_params())["workspace_id"] = "test-workspace";
  off.mutable_policy()->set_canary_count(1);
  off.mutable_policy()->set_max_in_flight(2);
  auto g = WaitState(Create(off).id(), v1::CAMPAIGN_STATE_COMPLETED);
  EXPECT_EQ(g.campaign().counters().done(), 4);
  auto list = server_->List();
  ASSERT_TRUE(list.ok());
  for (const auto& e : *list) EXPECT_EQ(e.state(), v1::ENDPOINT_STATE_OFFBOARDED);
}

TEST_F(CampaignTest, AnEndpointNeverRunsTwoCampaignsAtOnce) {
  Start();
  Fleet(2, 0, {"--sim_faults=slow_step_ms: 1500"});
  v1::Campaign first = Create({});
  ASSERT_TRUE(WaitUntil([&] { return Get(first.id()).campaign().counters().running() == 2; }));
  v1::CreateCampaignRequest second_req;
  second_req.set_name("second");
  v1::Campaign second = Create(second_req);
  auto g = Get(second.id());
  EXPECT_EQ(g.campaign().counters().conflicts(), 2);
  EXPECT_EQ(g.campaign().counters().running(), 0);
  for (const auto& m : g.members()) {
    EXPECT_NE(m.reason().find("conflict: busy with run"), std::string::npos) << m.reason();
  }
  // Once the first is done, the second takes its turn.
  WaitState(first.id(), v1::CAMPAIGN_STATE_COMPLETED);
  auto done = WaitState(second.id(), v1::CAMPAIGN_STATE_COMPLETED);
  EXPECT_EQ(done.campaign().counters().done(), 2);
}

TEST_F(CampaignTest, SurvivesAServerKillMidRollout) {
  Start();
  Fleet(12, 0, {"--sim_faults=slow_step_ms: 300"});
  v1::CreateCampaignRequest req;
  req.mutable_policy()->set_max_in_flight(3);
  v1::Campaign c = Create(req);
  ASSERT_TRUE(WaitUntil([&] { return Get(c.id()).campaign().counters().done() >= 3; }));
  server_->Kill(SIGKILL);
  server_->Wait();
  ASSERT_TRUE(server_->Start().ok());
  auto g = WaitState(c.id(), v1::CAMPAIGN_STATE_COMPLETED, absl::Seconds(90));
  EXPECT_EQ(g.campaign().counters().done(), 12);
  EXPECT_EQ(g.campaign().counters().failed(), 0);
}

}  // namespace
}  // namespace purser::testing
