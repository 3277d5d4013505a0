#include "server/rollout.h"

#include <gtest/gtest.h>

namespace purser::server {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

std::vector<std::string> Ids(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back("e" + std::to_string(100 + i));
  return ids;
}

v1::Campaign Running(const v1::RolloutPolicy& p, int wave) {
  v1::Campaign c;
  *c.mutable_policy() = p;
  c.set_state(v1::CAMPAIGN_STATE_RUNNING);
  c.set_current_wave(wave);
  return c;
}

void Set(std::vector<v1::CampaignMember>& ms, int i, v1::MemberState s,
         v1::ErrorClass cls = v1::ERROR_CLASS_UNSPECIFIED) {
  ms[i].set_state(s);
  ms[i].set_error_class(cls);
  if (s == v1::MEMBER_STATE_RUNNING) ms[i].set_started_unix_ms(kNow - 120'000);
}

TEST(Rollout, WavesByCanaryPercentAndCount) {
  v1::RolloutPolicy p;
  p.set_canary_count(2);
  p.add_waves()->set_percent(25);
  p.add_waves()->set_count(3);
  p.add_waves()->set_percent(100);
  auto ms = AssignWaves(Ids(22), p);
  std::map<int, int> sizes;
  for (const auto& m : ms) sizes[m.wave()]++;
  EXPECT_EQ(sizes[0], 2);
  EXPECT_EQ(sizes[1], 5);  // 25% of the 20 after the canary
  EXPECT_EQ(sizes[2], 3);
  EXPECT_EQ(sizes[3], 12);
  EXPECT_EQ(LastWave(p), 3);
}

// "e100" sorts first but is a Windows 10 machine the plan skips: the canary
// must be one that will run, or the waves start with nothing proven.
TEST(Rollout, TheCanaryIsDrawnFromMembersThatWillRun) {
  v1::RolloutPolicy p;
  p.set_canary_count(1);
  p.add_waves()->set_percent(100);
  auto ms = AssignWaves(Ids(5), p, {"e102", "e104"});
  ASSERT_EQ(ms.size(), 5u);
  EXPECT_EQ(ms[0].wave(), 0);
  EXPECT_EQ(ms[0].endpoint_id(), "e102");
  for (size_t i = 1; i < ms.size(); ++i) EXPECT_EQ(ms[i].wave(), 1) << i;

  v1::Plan plan;
  auto* step = plan.add_steps();
  step->add_platforms()->set_product(v1::OS_PRODUCT_WINDOWS_7);
  v1::Endpoint win7, win10, revoked, unknown;
  win7.set_state(v1::ENDPOINT_STATE_ENROLLED);
  win7.mutable_os()->set_product(v1::OS_PRODUCT_WINDOWS_7);
  win7.mutable_os()->set_version("6.1.7601");
  win7.mutable_os()->set_service_pack(1);
  win7.mutable_os()->set_arch(v1::ARCH_X64);
  win10.set_state(v1::ENDPOINT_STATE_UNSUPPORTED);
  win10.mutable_os()->set_product(v1::OS_PRODUCT_WINDOWS_7);
  revoked = win7;
  revoked.set_state(v1::ENDPOINT_STATE_REVOKED);
  unknown.set_state(v1::ENDPOINT_STATE_ENROLLED);
  EXPECT_TRUE(WillRun(plan, {}, win7));
  EXPECT_FALSE(WillRun(plan, {}, win10));
  EXPECT_FALSE(WillRun(plan, {}, revoked));
  EXPECT_FALSE(WillRun(plan, {}, unknown));
}

TEST(Rollout, CanaryFirstThenApprovalThenWaves) {
  v1::RolloutPolicy p;
  p.set_canary_count(2);
  p.set_approve_after_canary(true);
  auto ms = AssignWaves(Ids(10), p);
  NextStep s = Decide(Running(p, 0), ms, kNow);
  EXPECT_EQ(s.start, (std::vector<int>{0, 1}));  // the canary only
  Set(ms, 0, v1::MEMBER_STATE_DONE);
  Set(ms, 1, v1::MEMBER_STATE_RUNNING);
  EXPECT_TRUE(Decide(Running(p, 0), ms, kNow).start.empty());
  Set(ms, 1, v1::MEMBER_STATE_DONE);
  s = Decide(Running(p, 0), ms, kNow);
  EXPECT_EQ(s.state, v1::CAMPAIGN_STATE_WAITING_APPROVAL);
  EXPECT_TRUE(s.start.empty());
  s = Decide(Running(p, 1), ms, kNow);  // approved
  EXPECT_EQ(s.start.size(), 8u);
}

TEST(Rollout, FailedCanaryPauses) {
  v1::RolloutPolicy p;
  p.set_canary_count(1);
  auto ms = AssignWaves(Ids(5), p);
  Set(ms, 0, v1::MEMBER_STATE_FAILED, v1::ERROR_CLASS_EXIT_CODE);
  ms[0].set_reason("KB3080149: fatal error");
  NextStep s = Decide(Running(p, 0), ms, kNow);
  EXPECT_EQ(s.state, v1::CAMPAIGN_STATE_PAUSED);
  EXPECT_NE(s.reason.find("canary failed"), std::string::npos);
  EXPECT_NE(s.reason.find("KB3080149"), std::string::npos);
  EXPECT_TRUE(s.start.empty());
}

TEST(Rollout, ThresholdFiresExactlyAtItsCountAndClass) {
  v1::RolloutPolicy p;
  p.mutable_failure_threshold()->set_max_failures(3);
  p.mutable_failure_threshold()->set_min_sample(4);
  p.mutable_failure_threshold()->add_error_classes(v1::ERROR_CLASS_TIMEOUT);
  auto ms = AssignWaves(Ids(20), p);
  Set(ms, 0, v1::MEMBER_STATE_FAILED, v1::ERROR_CLASS_TIMEOUT);
  Set(ms, 1, v1::MEMBER_STATE_FAILED, v1::ERROR_CLASS_TIMEOUT);
  Set(ms, 2, v1::MEMBER_STATE_FAILED, v1::ERROR_CLASS_EXIT_CODE);  // another class
  Set(ms, 3, v1::MEMBER_STATE_DONE);
  EXPECT_EQ(Decide(Running(p, 1), ms, kNow).state, v1::CAMPAIGN_STATE_RUNNING);
  Set(ms, 4, v1::MEMBER_STATE_FAILED, v1::ERROR_CLASS_TIMEOUT);
  NextStep s = Decide(Running(p, 1), ms, kNow);
  EXPECT_EQ(s.state, v1::CAMPAIGN_STATE_PAUSED);
  EXPECT_NE(s.reason.find("3 failed of 5 finished"), std::string::npos) << s.reason;
  EXPECT_TRUE(s.start.empty());
  v1::Campaign resumed = Running(p, 1);
  resumed.set_acknowledged_failures(3);
  EXPECT_EQ(Decide(resumed, ms, kNow).state, v1::CAMPAIGN_STATE_RUNNING);
}

TEST(Rollout, ThresholdByPercentWaitsForItsSample) {
  v1::RolloutPolicy p;
  p.mutable_failure_threshold()->set_max_failure_percent(50);
  p.mutable_failure_threshold()->set_min_sample(4);
  auto ms = AssignWaves(Ids(10), p);
  Set(ms, 0, v1::MEMBER_STATE_FAILED, v1::ERROR_CLASS_EXIT_CODE);
  Set(ms, 1, v1::MEMBER_STATE_FAILED, v1::ERROR_CLASS_EXIT_CODE);
  Set(ms, 2, v1::MEMBER_STATE_DONE);
  EXPECT_EQ(Decide(Running(p, 1), ms, kNow).state, v1::CAMPAIGN_STATE_RUNNING);  // 3 < sample
  Set(ms, 3, v1::MEMBER_STATE_DONE);
  EXPECT_EQ(Decide(Running(p, 1), ms, kNow).state, v1::CAMPAIGN_STATE_PAUSED);  // 2/4 = 50%
}

TEST(Rollout, MaxInFlightAndStartRate) {
  v1::RolloutPolicy p;
  p.set_max_in_flight(4);
  p.set_start_per_minute(3);
  auto ms = AssignWaves(Ids(20), p);
  EXPECT_EQ(Decide(Running(p, 1), ms, kNow).start.size(), 3u);  // the rate binds first
  Set(ms, 0, v1::MEMBER_STATE_RUNNING);
  Set(ms, 1, v1::MEMBER_STATE_RUNNING);
  Set(ms, 2, v1::MEMBER_STATE_RUNNING);
  ms[2].set_started_unix_ms(kNow - 10'000);                     // started within the last minute
  EXPECT_EQ(Decide(Running(p, 1), ms, kNow).start.size(), 1u);  // in flight: 3 of 4
  Set(ms, 3, v1::MEMBER_STATE_RUNNING);
  EXPECT_TRUE(Decide(Running(p, 1), ms, kNow).start.empty());
  // A minute later the rate has room again, but not the flight.
  EXPECT_TRUE(Decide(Running(p, 1), ms, kNow + 61'000).start.empty());
  Set(ms, 0, v1::MEMBER_STATE_DONE);
  EXPECT_EQ(Decide(Running(p, 1), ms, kNow + 61'000).start.size(), 1u);
}

TEST(Rollout, WindowAndDeadline) {
  v1::RolloutPolicy p;
  int64_t minute = (kNow / 60'000) % 1440;
  p.set_window_start_minute(static_cast<int32_t>((minute + 60) % 1440));
  p.set_window_end_minute(static_cast<int32_t>((minute + 120) % 1440));
  auto ms = AssignWaves(Ids(3), p);
  NextStep s = Decide(Running(p, 1), ms, kNow);
  EXPECT_TRUE(s.start.empty());
  EXPECT_NE(s.reason.find("maintenance window"), std::string::npos);
  EXPECT_EQ(Decide(Running(p, 1), ms, kNow + 61 * 60'000).start.size(), 3u);
  p.set_deadline_unix_ms(kNow);
  EXPECT_EQ(Decide(Running(p, 1), ms, kNow).state, v1::CAMPAIGN_STATE_EXPIRED);
}

TEST(Rollout, CountersTellOfflineAndNeverSeenApart) {
  v1::RolloutPolicy p;
  auto ms = AssignWaves(Ids(4), p);
  EndpointMap eps;
  eps["e100"].set_online(true);
  eps["e101"].set_online(false);
  eps["e102"].set_online(true);
  eps["e102"].set_state(v1::ENDPOINT_STATE_WAITING_REBOOT);
  Set(ms, 1, v1::MEMBER_STATE_RUNNING);
  Set(ms, 2, v1::MEMBER_STATE_RUNNING);
  Set(ms, 0, v1::MEMBER_STATE_FAILED, v1::ERROR_CLASS_TIMEOUT);
  v1::Campaign c = Running(p, 1);
  Count(ms, eps, kNow, &c);
  EXPECT_EQ(c.counters().offline(), 1);
  EXPECT_EQ(c.counters().never_seen(), 1);  // e103
  EXPECT_EQ(c.counters().waiting_reboot(), 1);
  EXPECT_EQ(c.counters().failed(), 1);
  EXPECT_EQ(c.counters().timed_out(), 1);
  EXPECT_EQ(c.counters().failed_by_class().at("TIMEOUT"), 1);
  EXPECT_GT(c.eta_unix_ms(), kNow);
}

}  // namespace
}  // namespace purser::server
