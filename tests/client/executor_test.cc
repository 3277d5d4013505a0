#include "client/executor.h"

#include <gtest/gtest.h>

#include "client/sim/sim_windows.h"
#include "tests/test_util.h"

namespace purser::client {
namespace {

TEST(Executor, WindowsExitCodeDefaults) {
  v1::ExitCodes none;
  EXPECT_EQ(ClassifyExitCode(none, 0), v1::STEP_OUTCOME_SUCCEEDED);
  EXPECT_EQ(ClassifyExitCode(none, 3010), v1::STEP_OUTCOME_REBOOT_REQUIRED);
  EXPECT_EQ(ClassifyExitCode(none, 1641), v1::STEP_OUTCOME_REBOOT_REQUIRED);
  EXPECT_EQ(ClassifyExitCode(none, 2359302), v1::STEP_OUTCOME_ALREADY_DONE);
  EXPECT_EQ(ClassifyExitCode(none, static_cast<int>(0x80240017)), v1::STEP_OUTCOME_SKIPPED);
  EXPECT_EQ(ClassifyExitCode(none, 1603), v1::STEP_OUTCOME_FAILED);
  v1::ExitCodes custom;
  custom.add_success(5);
  EXPECT_EQ(ClassifyExitCode(custom, 5), v1::STEP_OUTCOME_SUCCEEDED);
  EXPECT_EQ(ClassifyExitCode(custom, 0), v1::STEP_OUTCOME_FAILED);
}

TEST(Executor, SkipIfAndSecretRedaction) {
  testing::ScratchDir dir;
  auto sim = sim::SimWindows::Open(dir.Sub("m"), "win81-x64-ent", "h", nullptr);
  ASSERT_TRUE(sim.ok());
  v1::Job job;
  v1::Step* step = job.mutable_step();
  step->set_id("mma");
  step->mutable_skip_if()->set_file_exists(sim::kMonitoringHost);
  auto* a = step->mutable_install_package();
  a->set_package("MMASetup-AMD64.exe");
  a->set_setup("setup.exe");
  a->add_args("OPINSIGHTS_WORKSPACE_ID=${workspace_id}");
  a->add_args("OPINSIGHTS_WORKSPACE_KEY=${secret:workspace_key}");
  (*job.mutable_params())["workspace_id"] = "ws-1";
  (*job.mutable_params())["secret:workspace_key"] = "super-secret-key-value";
  ActionResult first = ExecuteStep(**sim, job);
  EXPECT_EQ(first.outcome, v1::STEP_OUTCOME_SUCCEEDED) << first.message;
  EXPECT_EQ(first.output.find("super-secret-key-value"), std::string::npos);
  EXPECT_NE(first.output.find("OPINSIGHTS_WORKSPACE_KEY=[REDACTED]"), std::string::npos);
  EXPECT_NE(first.output.find("ws-1"), std::string::npos);
  ActionResult second = ExecuteStep(**sim, job);
  EXPECT_EQ(second.outcome, v1::STEP_OUTCOME_SKIPPED);
}

}  // namespace
}  // namespace purser::client
