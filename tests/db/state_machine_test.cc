#include "db/state_machine.h"

#include <gtest/gtest.h>

namespace purser::db {
namespace {

JobView View(int attempt, int seq = 1, int count = 3) {
  JobView v;
  v.attempt = attempt;
  v.max_attempts = 3;
  v.backoff_s = 10;
  v.seq = seq;
  v.step_count = count;
  v.step_id = "kb";
  return v;
}

TEST(StateMachine, SuccessQueuesNextOrFinishes) {
  Transition mid = Decide(View(1, 1), {v1::STEP_OUTCOME_SUCCEEDED, {}, 0, ""});
  EXPECT_TRUE(mid.queue_next);
  EXPECT_EQ(mid.endpoint_state, v1::ENDPOINT_STATE_IN_PROGRESS);
  Transition last = Decide(View(1, 3), {v1::STEP_OUTCOME_ALREADY_DONE, {}, 0, ""});
  EXPECT_FALSE(last.queue_next);
  EXPECT_EQ(last.endpoint_state, v1::ENDPOINT_STATE_ONBOARDED);
  JobView off = View(1, 3);
  off.purpose = v1::PLAN_PURPOSE_OFFBOARD;
  EXPECT_EQ(Decide(off, {v1::STEP_OUTCOME_SUCCEEDED, {}, 0, ""}).endpoint_state,
            v1::ENDPOINT_STATE_OFFBOARDED);
  EXPECT_EQ(Decide(View(1, 1), {v1::STEP_OUTCOME_SKIPPED, {}, 0, ""}).job_state,
            v1::JOB_STATE_SKIPPED);
}

TEST(StateMachine, RebootRequiredWaits) {
  Transition t = Decide(View(1, 1), {v1::STEP_OUTCOME_REBOOT_REQUIRED, {}, 0, ""});
  EXPECT_EQ(t.endpoint_state, v1::ENDPOINT_STATE_WAITING_REBOOT);
  EXPECT_TRUE(t.queue_next);
  EXPECT_EQ(t.job_state, v1::JOB_STATE_SUCCEEDED);
}

TEST(StateMachine, FailuresRetryWithGrowingBackoffThenFail) {
  StepResult fail{v1::STEP_OUTCOME_FAILED, v1::ERROR_CLASS_EXIT_CODE, 1603, "boom"};
  Transition t1 = Decide(View(1), fail);
  EXPECT_TRUE(t1.retry);
  EXPECT_EQ(t1.retry_delay_ms, 10'000);
  EXPECT_EQ(Decide(View(2), fail).retry_delay_ms, 20'000);
  Transition last = Decide(View(3), fail);
  EXPECT_FALSE(last.retry);
  EXPECT_EQ(last.job_state, v1::JOB_STATE_FAILED);
  EXPECT_EQ(last.endpoint_state, v1::ENDPOINT_STATE_FAILED);
  EXPECT_NE(last.detail.find("boom"), std::string::npos);
  EXPECT_NE(last.detail.find("EXIT_CODE"), std::string::npos);
  StepResult timeout{v1::STEP_OUTCOME_FAILED, v1::ERROR_CLASS_TIMEOUT, 0, ""};
  EXPECT_EQ(Decide(View(3), timeout).job_state, v1::JOB_STATE_TIMED_OUT);
}

TEST(StateMachine, BlockedIsNotFailed) {
  Transition t = Decide(View(1), {v1::STEP_OUTCOME_BLOCKED, v1::ERROR_CLASS_PREREQUISITE, 0,
                                  "missing prerequisite: KB4474419"});
  EXPECT_EQ(t.endpoint_state, v1::ENDPOINT_STATE_BLOCKED);
  EXPECT_FALSE(t.retry);
  EXPECT_NE(t.detail.find("KB4474419"), std::string::npos);
}

}  // namespace
}  // namespace purser::db

namespace purser::db {
namespace {

int64_t At(int hour, int minute) {
  return (1'800'000'000'000 / 86'400'000) * 86'400'000 + (hour * 60 + minute) * 60'000LL;
}

TEST(RebootWindow, DailyWindowMayWrapMidnight) {
  v1::RebootPolicy p;
  p.set_mode(v1::RebootPolicy::MODE_MAINTENANCE_WINDOW);
  p.set_window_start_minute(22 * 60);
  p.set_window_end_minute(4 * 60);
  int64_t opens = 0;
  EXPECT_TRUE(InRebootWindow(p, At(23, 30), &opens));
  EXPECT_TRUE(InRebootWindow(p, At(3, 59), &opens));
  EXPECT_FALSE(InRebootWindow(p, At(4, 0), &opens));
  EXPECT_FALSE(InRebootWindow(p, At(21, 0), &opens));
  EXPECT_EQ(opens, 60 * 60'000);
  p.set_mode(v1::RebootPolicy::MODE_NOW);
  EXPECT_TRUE(InRebootWindow(p, At(12, 0), &opens));
}

}  // namespace
}  // namespace purser::db
