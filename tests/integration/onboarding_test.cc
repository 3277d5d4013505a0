// Simulated endpoints of different OSes onboard end to end through real
// server and agent processes; the unsupported one is never touched.
#include <gtest/gtest.h>

#include "google/protobuf/text_format.h"
#include "purser/v1/simulated.pb.h"
#include "shared/crypto.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

v1::SimMachine Machine(const std::string& state_dir) {
  v1::SimMachine m;
  google::protobuf::TextFormat::ParseFromString(Slurp(state_dir + "/machine.textproto"), &m);
  return m;
}

bool HasKb(const v1::SimMachine& m, const std::string& kb) {
  for (const auto& k : m.inventory().installed_kbs()) {
    if (k == kb) return true;
  }
  return false;
}

TEST(Onboarding, ThreeOsesOnboardAndUnsupportedStaysUntouched) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  auto token_file = server.TokenFile(4);
  ASSERT_TRUE(token_file.ok()) << token_file.status();
  const std::vector<std::string> profiles = {"win7-sp1-x64-ent", "win81-x64-ent",
                                             "win2008r2-sp1-x64", "win10-x64-ent"};
  std::vector<std::unique_ptr<Process>> agents;
  for (const auto& p : profiles) {
    auto agent = StartAgent(server, dir.Sub(p), *token_file, p);
    ASSERT_TRUE(agent.ok());
    agents.push_back(std::move(*agent));
  }
  ASSERT_TRUE(WaitUntil([&] {
    auto list = server.List();
    return list.ok() && list->size() == 4;
  })) << server.Log();
  const std::string win10_before = Slurp(dir.Sub("win10-x64-ent") + "/machine.textproto");

  const std::string key = "wk-" + RandomHex(16);
  auto params = server.OnboardParams(key);
  ASSERT_TRUE(params.ok()) << params.status();
  auto run = server.StartRun("mde-downlevel-onboard", {}, *params);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->started_size(), 3);
  ASSERT_EQ(run->skipped_size(), 1);
  EXPECT_NE(run->skipped(0).reason().find("Windows 10"), std::string::npos);

  std::map<std::string, v1::Endpoint> by_host;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto list = server.List();
        if (!list.ok()) return false;
        int done = 0;
        for (const auto& e : *list) {
          by_host[e.hostname()] = e;
          done += e.state() == v1::ENDPOINT_STATE_ONBOARDED;
        }
        return done == 3;
      },
      absl::Seconds(60)))
      << server.Log();

  for (const auto& p : {"win7-sp1-x64-ent", "win81-x64-ent", "win2008r2-sp1-x64"}) {
    SCOPED_TRACE(p);
    const v1::Endpoint& e = by_host.at(p);
    EXPECT_EQ(e.current_step(), e.step_count());
    auto detail = server.Get(e.id());
    ASSERT_TRUE(detail.ok());
    for (const auto& j : detail->jobs()) {
      EXPECT_TRUE(j.state() == v1::JOB_STATE_SUCCEEDED || j.state() == v1::JOB_STATE_SKIPPED)
          << j.step_id() << " " << v1::JobState_Name(j.state());
    }
    v1::SimMachine m = Machine(dir.Sub(p));
    EXPECT_TRUE(m.mma_installed());
    ASSERT_EQ(m.workspaces_size(), 1);
    EXPECT_EQ(m.workspaces(0).id(), "test-workspace");
    EXPECT_TRUE(HasKb(m, "KB3080149"));
  }
  // 6.1 systems got the rollup and SHA-2 support, and rebooted for them to take.
  for (const auto& p : {"win7-sp1-x64-ent", "win2008r2-sp1-x64"}) {
    v1::SimMachine m = Machine(dir.Sub(p));
    EXPECT_TRUE(HasKb(m, "KB4074598")) << p;
    EXPECT_TRUE(HasKb(m, "KB4474419")) << p;
    EXPECT_GE(m.boot_count(), 2) << p;
    EXPECT_EQ(m.pending_kbs_size(), 0) << p;
  }
  EXPECT_FALSE(HasKb(Machine(dir.Sub("win81-x64-ent")), "KB4074598"));

  const v1::Endpoint& win10 = by_host.at("win10-x64-ent");
  EXPECT_EQ(win10.state(), v1::ENDPOINT_STATE_UNSUPPORTED);
  EXPECT_EQ(Slurp(dir.Sub("win10-x64-ent") + "/machine.textproto"), win10_before);
  EXPECT_EQ(Machine(dir.Sub("win10-x64-ent")).install_log_size(), 0);

  // The workspace key reached the machines' installers, and nowhere else.
  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(), 0);
  for (const auto& file :
       {server.data_dir() + "/purser.db", server.data_dir() + "/purser.db-wal"}) {
    EXPECT_EQ(Slurp(file).find(key), std::string::npos) << file;
  }
  EXPECT_EQ(server.Log().find(key), std::string::npos);
  for (const auto& p : profiles) {
    EXPECT_EQ(Slurp(dir.Sub(p) + ".log").find(key), std::string::npos) << p;
  }
}

}  // namespace
}  // namespace purser::testing
