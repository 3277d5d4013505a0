#include "client/sim/sim_windows.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace purser::client::sim {
namespace {

v1::Step Update(const std::string& kb, const std::string& package) {
  v1::Step s;
  s.set_id(kb);
  s.mutable_install_update()->set_kb(kb);
  s.mutable_install_update()->set_package(package);
  return s;
}

v1::Step Mma(const std::string& package = "MMASetup-AMD64.exe") {
  v1::Step s;
  s.mutable_install_package()->set_package(package);
  s.mutable_install_package()->add_args("OPINSIGHTS_WORKSPACE_ID=ws");
  return s;
}

std::unique_ptr<SimWindows> Open(const testing::ScratchDir& dir, const std::string& profile,
                                 const v1::SimFaults* faults = nullptr) {
  auto sim = SimWindows::Open(dir.Sub(profile), profile, profile, faults);
  EXPECT_TRUE(sim.ok()) << sim.status();
  return std::move(*sim);
}

TEST(SimWindows, UpdatesReturnWindowsExitCodes) {
  testing::ScratchDir dir;
  auto sim = Open(dir, "win7-sp1-x64-ent");
  const absl::Duration t = absl::Seconds(5);
  // The guide's DeployMMA.cmd bug: the 8.1 package on a 6.1 system.
  EXPECT_EQ(sim->Run(Update("KB3080149", "Windows8.1-KB3080149-x64.msu"), {}, t).exit_code,
            kExitNotApplicable);
  EXPECT_EQ(sim->Run(Update("KB3080149", "Windows6.1-KB3080149-x86.msu"), {}, t).exit_code,
            kExitNotApplicable);
  EXPECT_EQ(sim->Run(Update("KB3080149", "Windows6.1-KB3080149-x64.msu"), {}, t).exit_code, 0);
  EXPECT_EQ(sim->Run(Update("KB3080149", "Windows6.1-KB3080149-x64.msu"), {}, t).exit_code,
            kExitAlreadyInstalled);
  EXPECT_EQ(sim->Run(Update("KB4474419", "Windows6.1-KB4474419-x64.msu"), {}, t).exit_code,
            kExitRebootRequired);
  EXPECT_TRUE(sim->Inventory().pending_reboot());
}

TEST(SimWindows, Sha2SupportGatesTheMmaInstallUntilReboot) {
  testing::ScratchDir dir;
  auto sim = Open(dir, "win2008r2-sp1-x64");
  ActionResult r = sim->Run(Mma(), {}, absl::Seconds(5));
  EXPECT_EQ(r.exit_code, kExitUntrustedSignature);
  EXPECT_EQ(r.error_class, v1::ERROR_CLASS_PREREQUISITE);
  EXPECT_NE(r.message.find("KB4474419"), std::string::npos);
  sim->Run(Update("KB4474419", "Windows6.1-KB4474419-x64.msu"), {}, absl::Seconds(5));
  EXPECT_EQ(sim->Run(Mma(), {}, absl::Seconds(5)).exit_code, kExitUntrustedSignature)
      << "a pending update has not taken before the reboot";
  ASSERT_TRUE(sim->Reboot().ok());
  EXPECT_EQ(sim->Run(Mma(), {}, absl::Seconds(5)).exit_code, 0);
  EXPECT_EQ(sim->Snapshot().boot_count(), 1);
  EXPECT_EQ(sim->Run(Mma("MMASetup-i386.exe"), {}, absl::Seconds(5)).exit_code, kExitMsiFatal);
}

TEST(SimWindows, SenseRunsOnlyWithMmaWorkspaceTelemetryAndTls) {
  testing::ScratchDir dir;
  auto sim = Open(dir, "win81-x64-ent");
  v1::Check sense_running;
  sense_running.mutable_service()->set_name("sense");
  sense_running.mutable_service()->set_status(v1::SERVICE_STATUS_RUNNING);
  sim->Run(Mma(), {}, absl::Seconds(5));
  EXPECT_FALSE(*sim->Evaluate(sense_running)) << "KB3080149 is missing";
  sim->Run(Update("KB3080149", "Windows8.1-KB3080149-x64.msu"), {}, absl::Seconds(5));
  EXPECT_TRUE(*sim->Evaluate(sense_running));
  v1::Step remove;
  remove.mutable_remove_workspace()->set_workspace_id("ws");
  EXPECT_EQ(sim->Run(remove, {}, absl::Seconds(5)).outcome, v1::STEP_OUTCOME_SUCCEEDED);
  EXPECT_FALSE(*sim->Evaluate(sense_running));
}

TEST(SimWindows, InjectedFaults) {
  testing::ScratchDir dir;
  v1::SimFaults faults;
  faults.add_failing_kbs("KB3080149");
  faults.add_hung_kbs("KB4490628");
  faults.set_tls_interception(true);
  auto sim = Open(dir, "win7-sp1-x64-ent", &faults);
  EXPECT_EQ(
      sim->Run(Update("KB3080149", "Windows6.1-KB3080149-x64.msu"), {}, absl::Seconds(5)).exit_code,
      kExitFatal);
  ActionResult hung =
      sim->Run(Update("KB4490628", "Windows6.1-KB4490628-x64.msu"), {}, absl::Milliseconds(200));
  EXPECT_EQ(hung.error_class, v1::ERROR_CLASS_TIMEOUT);
  v1::Step conn;
  conn.mutable_check_connectivity()->add_urls("${urls}");
  ActionResult net =
      sim->Run(conn, {{"urls", "https://a.example, https://b.example"}}, absl::Seconds(5));
  EXPECT_EQ(net.error_class, v1::ERROR_CLASS_TLS_INTERCEPTION);
  EXPECT_NE(net.message.find("TLS interception"), std::string::npos);
}

TEST(SimWindows, StateSurvivesReopenAndLostRebootsStayDown) {
  testing::ScratchDir dir;
  v1::SimFaults faults;
  faults.set_lose_reboot(true);
  {
    auto sim = Open(dir, "win81-x64-ent", &faults);
    sim->Run(Update("KB3080149", "Windows8.1-KB3080149-x64.msu"), {}, absl::Seconds(5));
    EXPECT_EQ(sim->Reboot().code(), absl::StatusCode::kUnavailable);
  }
  auto again = SimWindows::Open(dir.Sub("win81-x64-ent"), "", "", nullptr);
  ASSERT_TRUE(again.ok());
  v1::SimMachine m = (*again)->Snapshot();
  EXPECT_TRUE(m.down());
  ASSERT_EQ(m.install_log_size(), 1);
  EXPECT_EQ(m.install_log(0).what(), "KB3080149");
  EXPECT_FALSE(SimWindows::Open(dir.Sub("nothing"), "", "", nullptr).ok());
  EXPECT_FALSE(SimWindows::Open(dir.Sub("bad"), "win95", "", nullptr).ok());
}

}  // namespace
}  // namespace purser::client::sim
