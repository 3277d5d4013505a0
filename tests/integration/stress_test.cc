// Many long-lived calls ended at once: long polls of a whole fleet dropped
// together, and campaign watches that go away before, during and after their
// first update. Run under AddressSanitizer in CI: a finished call must never
// be touched again, and the server must keep serving.
#include <gtest/gtest.h>

#include <csignal>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "shared/files.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

int ParkedLongPolls(const TestServer& server) {
  v1::GetServerStatsRequest req;
  v1::ServerStats stats;
  grpc::ClientContext ctx;
  if (!server.Admin()->GetServerStats(&ctx, req, &stats).ok()) return -1;
  return stats.parked_long_polls();
}

// The end of the server's log: where a sanitizer report would be.
std::string ServerTail(const TestServer& server) {
  std::string log = server.Log();
  return log.size() > 6000 ? log.substr(log.size() - 6000) : log;
}

void ExpectHealthyAndCleanExit(TestServer& server) {
  auto list = server.List();
  EXPECT_TRUE(list.ok()) << list.status();
  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(), 0) << ServerTail(server);
  EXPECT_EQ(server.Log().find("Sanitizer"), std::string::npos) << ServerTail(server);
}

TEST(StressTest, AFleetOfLongPollsDroppedAtOnce) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  // wait_seconds=0: every poll is parked and expired within the sweeper's
  // period, so expiry, notify and cancel race with the poll that parks.
  for (int round = 0; round < 2; ++round) {
    auto sim = Process::Spawn(
        {PURSER_FLEETSIM_BIN, "--server=" + server.address(), "--ca=" + server.ca_path(),
         "--cert=" + server.data_dir() + "/admin.pem", "--key=" + server.data_dir() + "/admin.key",
         "--agents=600", "--state_root=" + dir.Sub("fleet"),
         round == 0 ? "--phases=enroll,boot,idle" : "--phases=load,boot,idle", "--idle_seconds=4",
         "--wait_seconds=" + std::to_string(round == 0 ? 0 : 30), "--source_ips=4",
         "--timeout_seconds=120"},
        dir.Sub("fleetsim.log"));
    ASSERT_TRUE(sim.ok());
    if (round == 1) {
      // Parked for 30 s; the process dies with all of them open.
      ASSERT_TRUE(WaitUntil([&] { return ParkedLongPolls(server) >= 600; }, absl::Seconds(120)))
          << ServerTail(server);
      absl::SleepFor(absl::Seconds(2));
      (*sim)->Signal(SIGKILL);
      (*sim)->Wait();
    } else {
      ASSERT_EQ((*sim)->Wait(absl::Seconds(180)), 0) << (*sim)->Log() << "\nserver:\n"
                                                     << ServerTail(server);
    }
  }
  ExpectHealthyAndCleanExit(server);
}

TEST(StressTest, CampaignWatchesThatGoAwayAtAnyMoment) {
  TempDir dir;
  TestServer server(dir.path(), {"--campaign_tick_ms=20"});
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  v1::CreateCampaignRequest req;
  req.set_name("watched");
  req.set_plan_name("campaign-test");
  (*req.mutable_target()->mutable_labels())["site"] = "nowhere";
  req.mutable_target()->set_dynamic(true);
  v1::Campaign c;
  {
    grpc::ClientContext ctx;
    grpc::Status st = server.Admin()->CreateCampaign(&ctx, req, &c);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  for (int round = 0; round < 20; ++round) {
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    std::vector<std::unique_ptr<grpc::ClientReader<v1::Campaign>>> readers;
    auto admin = server.Admin();
    v1::GetCampaignRequest get;
    get.set_id(c.id());
    for (int i = 0; i < 50; ++i) {
      contexts.push_back(std::make_unique<grpc::ClientContext>());
      readers.push_back(admin->WatchCampaign(contexts.back().get(), get));
      if (i % 3 == 0) contexts.back()->TryCancel();  // before its first update
    }
    for (int i = 0; i < 50; i += 2) {
      v1::Campaign first;
      if (i % 3 != 0) readers[i]->Read(&first);
    }
    {
      v1::ActOnCampaignRequest act;
      act.set_id(c.id());
      act.set_action(round % 2 ? v1::ActOnCampaignRequest::ACTION_RESUME
                               : v1::ActOnCampaignRequest::ACTION_PAUSE);
      v1::Campaign after;
      grpc::ClientContext ctx;
      admin->ActOnCampaign(&ctx, act, &after);
    }
    for (auto& ctx : contexts) ctx->TryCancel();  // all together
    for (auto& r : readers) r->Finish();
  }
  EXPECT_GE(ParkedLongPolls(server), 0);
  ExpectHealthyAndCleanExit(server);
}

}  // namespace
}  // namespace purser::testing
