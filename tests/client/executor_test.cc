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
  EXPECT_EQ(second.message, std::string("skipped: ") + sim::kMonitoringHost + " exists");
}

// A skipped step says which check held, down to the alternative of an any_of.
TEST(Executor, ASkippedStepSaysWhichCheckHeld) {
  testing::ScratchDir dir;
  auto sim = sim::SimWindows::Open(dir.Sub("m"), "win7-sp1-x86-pro", "h", nullptr);
  ASSERT_TRUE(sim.ok());
  v1::Job job;
  v1::Step* step = job.mutable_step();
  step->set_id("tls");
  auto* any = step->mutable_skip_if()->mutable_any_of();
  any->add_checks()->set_kb_installed("KB3154518");
  any->add_checks()->set_dotnet_at_least("4.5");
  step->mutable_check_file()->set_path("C:\\x");
  ActionResult r = ExecuteStep(**sim, job);
  EXPECT_EQ(r.outcome, v1::STEP_OUTCOME_SKIPPED);
  EXPECT_EQ(r.message, "skipped: .NET Framework 4.5 or later is installed");
}

// run_command runs only where the endpoint's own install allowed it.
TEST(Executor, RunCommandNeedsTheEndpointsConsent) {
  testing::ScratchDir dir;
  auto sim = sim::SimWindows::Open(dir.Sub("m"), "win81-x64-ent", "h", nullptr);
  ASSERT_TRUE(sim.ok());
  v1::Job job;
  job.mutable_step()->set_id("cmd");
  job.mutable_step()->mutable_run_command()->add_argv("cmd.exe");
  ActionResult refused = ExecuteStep(**sim, job);
  EXPECT_EQ(refused.outcome, v1::STEP_OUTCOME_FAILED);
  EXPECT_EQ(refused.error_class, v1::ERROR_CLASS_UNSUPPORTED_ACTION);
  EXPECT_NE(refused.message.find("--allow_run_command"), std::string::npos) << refused.message;
  ActionResult allowed = ExecuteStep(**sim, job, true);
  EXPECT_EQ(allowed.message.find("--allow_run_command"), std::string::npos) << allowed.message;
}

}  // namespace
}  // namespace purser::client
