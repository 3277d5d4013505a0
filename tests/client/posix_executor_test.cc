#include "client/posix_executor.h"

#include <gtest/gtest.h>

namespace purser::client {
namespace {

TEST(RunProcess, ExitCodeAndOutput) {
  auto r = RunProcess({"sh", "-c", "echo out; echo err >&2; exit 7"}, absl::Seconds(10));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_NE(r->output.find("out"), std::string::npos);
  EXPECT_NE(r->output.find("err"), std::string::npos);
  EXPECT_FALSE(r->timed_out);
}

TEST(RunProcess, TimeoutKillsTheProcessGroup) {
  absl::Time t0 = absl::Now();
  auto r = RunProcess({"sh", "-c", "sleep 30 & sleep 30"}, absl::Milliseconds(300));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
}

// A step that closes its output and keeps running still meets its deadline.
TEST(RunProcess, TheDeadlineHoldsAfterTheOutputCloses) {
  absl::Time t0 = absl::Now();
  auto r = RunProcess({"sh", "-c", "exec >/dev/null 2>&1; sleep 30"}, absl::Milliseconds(500));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
}

TEST(RunProcess, OutputIsCappedToItsTail) {
  auto r = RunProcess({"sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a; echo END"},
                      absl::Seconds(10), 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output.size(), 1000u);
  EXPECT_NE(r->output.find("END"), std::string::npos);
}

TEST(RunProcess, MissingProgram) {
  auto r = RunProcess({"/nonexistent/program"}, absl::Seconds(5));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 127);
  EXPECT_NE(r->output.find("cannot execute"), std::string::npos);
}

TEST(PosixExecutor, RunsArgvNotAShellString) {
  PosixExecutor ex;
  v1::Step step;
  step.mutable_run_command()->add_argv("echo");
  step.mutable_run_command()->add_argv("${word}; rm -rf /");
  ActionResult r = ex.Run(step, {{"word", "hello"}}, absl::Seconds(5));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "hello; rm -rf /\n");
  v1::Step win;
  win.mutable_install_update()->set_kb("KB1");
  EXPECT_EQ(ex.Run(win, {}, absl::Seconds(1)).error_class, v1::ERROR_CLASS_UNSUPPORTED_ACTION);
}

}  // namespace
}  // namespace purser::client
