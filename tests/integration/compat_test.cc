// Wire compatibility: the previous release's agent and purserctl
// (tests/upgrade/PREVIOUS_RELEASE, built from git history by the ctest
// fixture compat_build_previous_release) keep working against this server.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "shared/files.h"
#include "shared/plan/plan_loader.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

namespace fs = std::filesystem;

// Where the previous release was built; PURSER_COMPAT_DIR overrides it.
std::string PreviousBuild() {
  const char* env = std::getenv("PURSER_COMPAT_DIR");
  return env != nullptr ? env : PURSER_COMPAT_DIR;
}

class CompatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctl_ = PreviousBuild() + "/purserctl";
    agent_ = PreviousBuild() + "/purser-agent";
    for (const auto& bin : {ctl_, agent_}) {
      ASSERT_TRUE(fs::exists(bin))
          << "the previous release's " << bin << " is missing: it is built from git history by "
          << "the ctest test compat_build_previous_release (tests/upgrade/build_release.sh "
          << "$(cat tests/upgrade/PREVIOUS_RELEASE) " << fs::path(PreviousBuild()).parent_path()
          << " purserctl purser-agent); see its output for why it failed";
    }
  }
  // Runs the previous purserctl; expects exit 0 and returns its output.
  std::string Ctl(const std::string& args) {
    std::string out;
    int rc = RunCtlBinary(ctl_, *server_, args, &out);
    EXPECT_EQ(rc, 0) << "previous purserctl " << args << ":\n" << out;
    return out;
  }
  std::string ctl_, agent_;
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(CompatTest, PreviousAgentAndPurserctlWorkWithThisServer) {
  server_ = std::make_unique<TestServer>(dir_.path());
  ASSERT_TRUE(server_->Start().ok());
  const std::string token = dir_.Sub("token");
  Ctl("token create --uses 3 --ttl 1h --labels site=compat --out " + token);
  ASSERT_TRUE(WriteFileAtomic(dir_.Sub("workspace.key"), "compat-workspace-key", 0600).ok());
  Ctl("secret put compat-key --from_file " + dir_.Sub("workspace.key"));
  auto plan = LoadPlanFile(std::string(PURSER_PLANS_DIR) + "/mde-downlevel-onboard.textproto");
  ASSERT_TRUE(plan.ok());
  fs::create_directories(dir_.Sub("packages"));
  std::string files;
  for (const auto& a : plan->artifacts()) {
    ASSERT_TRUE(WriteFileAtomic(dir_.Sub("packages/" + a.name()), "stand-in " + a.name()).ok());
    files += " " + dir_.Sub("packages/" + a.name());
  }
  Ctl("artifact upload" + files);

  std::vector<std::unique_ptr<Process>> agents;
  for (const char* profile : {"win7-sp1-x64-ent", "win2008r2-sp1-x64"}) {
    auto a = StartAgentBinary(agent_, *server_, dir_.Sub(profile), token, profile);
    ASSERT_TRUE(a.ok());
    agents.push_back(std::move(*a));
  }
  ASSERT_TRUE(WaitUntil([&] {
    auto l = server_->List();
    return l.ok() && l->size() == 2;
  })) << agents[0]->Log();

  // Onboarding through a campaign, created and watched by the previous purserctl.
  std::string created =
      Ctl("campaign create compat-onboard --plan mde-downlevel-onboard "
          "--params workspace_id=compat-ws,workspace_key=compat-key --labels site=compat "
          "--canary 1 --waves 100% --max_in_flight 2 -o json");
  size_t at = created.find("\"c-");
  ASSERT_NE(at, std::string::npos) << created;
  std::string campaign = created.substr(at + 1, created.find('"', at + 1) - at - 1);
  std::string watched = Ctl("campaign watch " + campaign);
  EXPECT_NE(watched.find("COMPLETED"), std::string::npos) << watched;
  std::string got = Ctl("campaign get " + campaign);
  EXPECT_NE(got.find("compat-onboard"), std::string::npos) << got;

  std::string listed = Ctl("endpoints list");
  for (const char* host : {"win7-sp1-x64-ent", "win2008r2-sp1-x64"}) {
    EXPECT_NE(listed.find(host), std::string::npos) << listed;
  }
  auto endpoints = server_->List();
  ASSERT_TRUE(endpoints.ok());
  std::string win7;
  for (const auto& e : *endpoints) {
    EXPECT_EQ(e.state(), v1::ENDPOINT_STATE_ONBOARDED) << e.ShortDebugString();
    if (e.hostname() == "win7-sp1-x64-ent") win7 = e.id();
  }
  std::string one = Ctl("endpoints get " + win7);
  EXPECT_NE(one.find("ONBOARDED"), std::string::npos) << one;
  EXPECT_NE(Ctl("endpoints list -o json").find(win7), std::string::npos);

  // A run started by the previous purserctl, carried out by the previous agent.
  Ctl("run start --plan mde-downlevel-offboard --endpoints " + win7 +
      " --params workspace_id=compat-ws");
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto e = server_->Get(win7);
        return e.ok() && e->endpoint().state() == v1::ENDPOINT_STATE_OFFBOARDED;
      },
      absl::Seconds(60)))
      << agents[0]->Log();

  std::string audit = Ctl("audit");
  for (const char* method : {"CreateCampaign", "StartRun", "PutSecret"}) {
    EXPECT_NE(audit.find(method), std::string::npos) << audit;
  }
  EXPECT_NE(Ctl("endpoints history " + win7).find("OFFBOARDED"), std::string::npos);
  EXPECT_NE(Ctl("cert list").find("admin"), std::string::npos);
}

}  // namespace
}  // namespace purser::testing
