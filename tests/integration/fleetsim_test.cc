// The fleet simulator against a real server: a small fleet is enrolled, booted
// and onboarded by a campaign with the default plan while faults are acted
// out; the server's own view must match what the faults imply.
#include <gtest/gtest.h>

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "shared/files.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

std::map<std::string, double> Figures(const std::string& log) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    double v = 0;
    if (f.size() == 3 && f[0] == "figure" && absl::SimpleAtod(f[2], &v)) out[f[1]] = v;
  }
  return out;
}

TEST(FleetSimTest, CampaignOnboardsAFleetDespiteCrashesAndFailsOnlyTheFailingKb) {
  TempDir dir;
  TestServer server(dir.path(), {"--campaign_tick_ms=100"});
  // The default plan, but retrying the SHA-2 update after 1 s instead of 30 s.
  std::string plan = Slurp(std::string(PURSER_PLANS_DIR) + "/mde-downlevel-onboard.textproto");
  plan = absl::StrReplaceAll(
      plan, {{"name: \"mde-downlevel-onboard\"", "name: \"fast-retry\""},
             {"id: \"sha2-kb4474419-x64\"", "id: \"sha2-kb4474419-x64\" backoff_seconds: 1"},
             {"id: \"sha2-kb4474419-x86\"", "id: \"sha2-kb4474419-x86\" backoff_seconds: 1"}});
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("plans/fast-retry.textproto"), plan).ok());
  ASSERT_TRUE(server.Start().ok());
  const int n = 40;
  auto sim = Process::Spawn(
      {PURSER_FLEETSIM_BIN, "--server=" + server.address(), "--ca=" + server.ca_path(),
       "--cert=" + server.data_dir() + "/admin.pem", "--key=" + server.data_dir() + "/admin.key",
       "--agents=" + std::to_string(n), "--state_root=" + dir.Sub("fleet"),
       "--phases=enroll,boot,campaign", "--plan=fast-retry", "--crash_pct=20",
       "--failing_kb_pct=25", "--reboot_ms=100", "--source_ips=4", "--timeout_seconds=120"},
      dir.Sub("fleetsim.log"));
  ASSERT_TRUE(sim.ok());
  ASSERT_EQ((*sim)->Wait(absl::Seconds(180)), 0) << (*sim)->Log();
  auto fig = Figures(Slurp(dir.Sub("fleetsim.log")));
  EXPECT_EQ(fig["enroll_errors"], 0);
  EXPECT_EQ(fig["boot_checked_in"], n);
  EXPECT_GT(fig["campaign_sqlite_transactions"], 0);

  // The failing KB is SHA-2 support (Windows 7 / 2008 R2 only): those
  // machines, and only those, fail at that step; the rest, crashed agents
  // included, are onboarded.
  auto endpoints = server.List();
  ASSERT_TRUE(endpoints.ok());
  ASSERT_EQ(endpoints->size(), static_cast<size_t>(n));
  int onboarded = 0, failed = 0;
  for (const auto& e : *endpoints) {
    if (e.state() == v1::ENDPOINT_STATE_ONBOARDED) {
      ++onboarded;
    } else {
      ++failed;
      EXPECT_EQ(e.state(), v1::ENDPOINT_STATE_FAILED) << e.DebugString();
      EXPECT_NE(e.current_step_id().find("kb4474419"), std::string::npos) << e.DebugString();
      EXPECT_NE(e.os().product(), v1::OS_PRODUCT_WINDOWS_8_1);
    }
  }
  EXPECT_GT(failed, 0);
  EXPECT_GT(onboarded, n / 2);
  EXPECT_EQ(fig["campaign_done"] + fig["campaign_failed"], n);
  EXPECT_EQ(fig["campaign_failed"], failed);
  std::string log = Slurp(dir.Sub("fleetsim.log"));
  EXPECT_NE(log.find("faults acted out: 8 crashes"), std::string::npos) << log;
}

}  // namespace
}  // namespace purser::testing
