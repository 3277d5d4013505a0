// Backup and restore with real processes: a backup taken by
// `purser-server backup` while agents report mid-campaign, the data
// directory wiped, `purser-server restore`, and the campaign finishes with
// the same agents (their certificates are still trusted: the CA came back).
// One server per data directory.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "grpcpp/client_context.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

// Runs `purser-server <args>`; returns its exit code, its output in *out.
int RunServerCommand(const TempDir& dir, const std::vector<std::string>& args, std::string* out) {
  static int runs = 0;
  std::vector<std::string> argv = {PURSER_SERVER_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string log = dir.Sub("command." + std::to_string(runs++) + ".log");
  auto p = Process::Spawn(argv, log);
  if (!p.ok()) return -1;
  int code = (*p)->Wait(absl::Seconds(60));
  *out = Slurp(log);
  return code;
}

TEST(BackupRestore, CampaignFinishesAfterRestoringABackupTakenMidway) {
  TempDir dir;
  TestServer server(dir.path(), {"--campaign_tick_ms=100"});
  ASSERT_TRUE(server.Start().ok());
  auto token = server.TokenFile(6);
  ASSERT_TRUE(token.ok());
  std::vector<std::unique_ptr<Process>> agents;
  const char* profiles[] = {"win7-sp1-x64-ent", "win7-sp1-x86-pro", "win81-x64-ent",
                            "win81-x86-pro"};
  for (int i = 0; i < 6; ++i) {
    auto a = StartAgent(server, dir.Sub("agent" + std::to_string(i)), *token, profiles[i % 4],
                        {"--sim_faults=slow_step_ms: 250"});
    ASSERT_TRUE(a.ok());
    agents.push_back(std::move(*a));
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto l = server.List();
        return l.ok() && l->size() == 6;
      },
      absl::Seconds(60)));
  auto params = server.OnboardParams("backup-test-workspace-key");
  ASSERT_TRUE(params.ok()) << params.status();
  v1::CreateCampaignRequest req;
  req.set_name("backup-midway");
  req.set_plan_name("mde-downlevel-onboard");
  for (const auto& [k, v] : *params) (*req.mutable_params())[k] = v;
  req.mutable_policy()->set_max_in_flight(3);
  v1::Campaign campaign;
  {
    grpc::ClientContext ctx;
    grpc::Status st = server.Admin()->CreateCampaign(&ctx, req, &campaign);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  auto counters = [&] {
    v1::GetCampaignRequest get;
    get.set_id(campaign.id());
    v1::GetCampaignResponse resp;
    grpc::ClientContext ctx;
    server.Admin()->GetCampaign(&ctx, get, &resp);
    return resp.campaign();
  };
  // Mid-campaign: members running, some not yet started.
  ASSERT_TRUE(WaitUntil([&] { return counters().counters().running() >= 2; }));

  std::string out;
  const std::string backup = dir.Sub("fleet.backup");
  ASSERT_EQ(
      RunServerCommand(dir, {"backup", "--data_dir=" + server.data_dir(), "--out=" + backup}, &out),
      0)
      << out;
  EXPECT_NE(out.find("6 endpoints"), std::string::npos) << out;
  EXPECT_NE(out.find("sha256 " + *Sha256HexOfFile(backup)), std::string::npos) << out;
  EXPECT_EQ(out.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(*FileMode(backup), 0600);
  v1::Campaign at_backup = counters();
  EXPECT_NE(at_backup.state(), v1::CAMPAIGN_STATE_COMPLETED) << at_backup.ShortDebugString();
  // A second backup to the same file is refused.
  EXPECT_EQ(
      RunServerCommand(dir, {"backup", "--data_dir=" + server.data_dir(), "--out=" + backup}, &out),
      1);
  EXPECT_NE(out.find("--force"), std::string::npos) << out;

  // The agents go on reporting while the server stops; the data is lost.
  server.Kill(SIGTERM);
  ASSERT_EQ(server.Wait(), 0);
  std::filesystem::remove_all(server.data_dir());
  ASSERT_EQ(RunServerCommand(
                dir, {"restore", "--from=" + backup, "--data_dir=" + server.data_dir()}, &out),
            0)
      << out;
  EXPECT_NE(out.find("restored " + server.data_dir()), std::string::npos) << out;
  ASSERT_TRUE(server.Start().ok());

  ASSERT_TRUE(WaitUntil(
      [&] {
        auto l = server.List();
        if (!l.ok() || l->size() != 6) return false;
        for (const auto& e : *l) {
          if (e.state() != v1::ENDPOINT_STATE_ONBOARDED) return false;
        }
        return true;
      },
      absl::Seconds(90)))
      << server.Log();
  ASSERT_TRUE(WaitUntil([&] { return counters().state() == v1::CAMPAIGN_STATE_COMPLETED; }))
      << counters().ShortDebugString();
  for (auto& a : agents) EXPECT_TRUE(a->Running()) << a->Log();
}

TEST(BackupRestore, OneServerPerDataDirectoryAndNoRestoreUnderIt) {
  TempDir dir;
  TestServer first(dir.path());
  ASSERT_TRUE(first.Start().ok());
  std::string out;
  const std::string backup = dir.Sub("b");
  ASSERT_EQ(
      RunServerCommand(dir, {"backup", "--data_dir=" + first.data_dir(), "--out=" + backup}, &out),
      0)
      << out;

  TestServer second(dir.path());
  absl::Status st = second.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("data directory " + first.data_dir() +
                              " is in use by another purser-server process"),
            std::string::npos)
      << st;
  EXPECT_EQ(second.Wait(), 1);

  EXPECT_EQ(
      RunServerCommand(
          dir, {"restore", "--from=" + backup, "--data_dir=" + first.data_dir(), "--force"}, &out),
      1);
  EXPECT_NE(out.find("in use by another purser-server process"), std::string::npos) << out;
  EXPECT_NE(out.find("stop it first"), std::string::npos) << out;
  EXPECT_TRUE(first.List().ok());  // the first server serves on, untouched

  EXPECT_EQ(RunServerCommand(dir, {"restore", "--from=" + backup}, &out), 2);
  EXPECT_NE(out.find("--data_dir is required"), std::string::npos) << out;
  EXPECT_EQ(RunServerCommand(dir, {"backup", "--data_dir=x", "--outt=y"}, &out), 2);
  EXPECT_NE(out.find("unknown flag --outt"), std::string::npos) << out;
}

// The server reads its secrets key from elsewhere and a stray, other
// secrets.key lies in its data directory: backup checks the secrets against
// the key it is told of. A restore cut short leaves a restore-tmp directory:
// the server refuses to start on a new, empty data directory beside it.
TEST(BackupRestore, KeyKeptApartAndARestoreCutShort) {
  TempDir dir;
  const std::string key_file = dir.Sub("secrets.key");
  TestServer server(dir.path(), {"--secrets_key_file=" + key_file});
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(server.OnboardParams("workspace-key-1").ok());  // a sealed secret
  server.Kill(SIGTERM);
  server.Wait();
  ASSERT_TRUE(WriteFileAtomic(server.data_dir() + "/secrets.key", RandomBytes(32), 0600).ok());

  std::string out;
  const std::string backup = dir.Sub("b");
  EXPECT_EQ(
      RunServerCommand(dir, {"backup", "--data_dir=" + server.data_dir(), "--out=" + backup}, &out),
      1);
  EXPECT_NE(out.find("does not open with its secrets.key"), std::string::npos) << out;
  EXPECT_FALSE(PathExists(backup));
  ASSERT_EQ(RunServerCommand(dir,
                             {"backup", "--data_dir=" + server.data_dir(), "--out=" + backup,
                              "--secrets_key_file=" + key_file},
                             &out),
            0)
      << out;
  EXPECT_NE(out.find("secrets.key NOT included"), std::string::npos) << out;
  EXPECT_EQ(out.find("workspace-key-1"), std::string::npos);

  // As if killed between extracting and the final rename: the data
  // directory is missing, the restored copy is beside it.
  const std::string left = server.data_dir() + ".restore-tmp-Xy12Zq";
  ASSERT_EQ(::rename(server.data_dir().c_str(), left.c_str()), 0);
  absl::Status st = server.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(left + " is left by a restore that was cut short"), std::string::npos)
      << st;
  EXPECT_EQ(server.Wait(), 1);
  // Nothing made there, not even an empty directory: `mv -T` finishes the restore.
  EXPECT_FALSE(PathExists(server.data_dir()));

  ASSERT_EQ(RunServerCommand(dir,
                             {"restore", "--from=" + backup, "--data_dir=" + server.data_dir(),
                              "--secrets_key_file=" + key_file},
                             &out),
            0)
      << out;
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  EXPECT_TRUE(server.List().ok());
  EXPECT_TRUE(PathExists(left + "/purser.db"));  // never deleted by anyone but the operator
}

}  // namespace
}  // namespace purser::testing
