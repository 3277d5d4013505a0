// A full disk under a running server: the data directory on a small tmpfs,
// filled with ballast while agents onboard. Writes are refused with
// RESOURCE_EXHAUSTED, the log says so once, the database stays intact, and
// once the ballast goes the agents finish without the server restarting.
// Needs root (mount); CI runs as root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_split.h"
#include "db/sqlite/connection.h"
#include "grpcpp/client_context.h"
#include "shared/files.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

// A tmpfs of `size` on `dir`, unmounted at destruction.
class SmallDisk {
 public:
  SmallDisk(std::string dir, const std::string& size) : dir_(std::move(dir)) {
    MakeDirs(dir_, 0700).IgnoreError();
    std::string opts = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      error_ = std::string("mount -t tmpfs on ") + dir_ + ": " + std::strerror(errno);
    }
  }
  ~SmallDisk() {
    if (error_.empty()) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  std::string error_;
};

// Writes `path` until the file system has no room left; returns the bytes written.
int64_t FillWithBallast(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  std::string block(64 * 1024, 'b');
  int64_t total = 0;
  for (size_t size : {block.size(), size_t{4096}, size_t{1}}) {
    while (true) {
      ssize_t n = ::write(fd, block.data(), size);
      if (n <= 0) break;
      total += n;
    }
  }
  ::close(fd);
  return total;
}

int CountLines(const std::string& log, const std::string& needle) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) n += line.find(needle) != line.npos;
  return n;
}

TEST(DiskFull, WritesAreRefusedLoggedOnceAndResumeWhenSpaceReturns) {
  ASSERT_EQ(::geteuid(), 0u) << "this test mounts a small tmpfs for the data directory: run it as "
                                "root (CI does)";
  TempDir dir;
  TestServer server(dir.path(), {"--campaign_tick_ms=100"});
  SmallDisk disk(server.data_dir(), "24m");
  ASSERT_TRUE(disk.error().empty()) << disk.error();
  ASSERT_TRUE(server.Start().ok());
  auto token = server.TokenFile(4);
  ASSERT_TRUE(token.ok());
  std::vector<std::unique_ptr<Process>> agents;
  const char* profiles[] = {"win7-sp1-x64-ent", "win81-x64-ent", "win7-sp1-x86-pro",
                            "win81-x86-pro"};
  for (int i = 0; i < 4; ++i) {
    auto a = StartAgent(server, dir.Sub("agent" + std::to_string(i)), *token, profiles[i],
                        {"--sim_faults=slow_step_ms: 300"});
    ASSERT_TRUE(a.ok());
    agents.push_back(std::move(*a));
  }
  ASSERT_TRUE(WaitUntil([&] {
    auto l = server.List();
    return l.ok() && l->size() == 4;
  }));
  auto params = server.OnboardParams("disk-full-workspace-key");
  ASSERT_TRUE(params.ok()) << params.status();
  ASSERT_TRUE(server.StartRun("mde-downlevel-onboard", {}, *params).ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto l = server.List();
    return l.ok() && l->front().state() == v1::ENDPOINT_STATE_IN_PROGRESS;
  }));

  // The write-ahead log emptied first, so that the next commits need new
  // room (a WAL that was reset from the start would reuse its own space).
  const std::string db_path = server.data_dir() + "/purser.db";
  {
    auto c = db::Connection::OpenFile(db_path, SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->ExecScript("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  }
  const std::string ballast = server.data_dir() + "/ballast";
  ASSERT_GT(FillWithBallast(ballast), 0);

  // A write RPC is refused, naming the directory.
  grpc::Status refused;
  ASSERT_TRUE(WaitUntil(
      [&] {
        v1::CreateEnrollmentTokenRequest req;
        req.set_max_uses(1);
        v1::CreateEnrollmentTokenResponse resp;
        grpc::ClientContext ctx;
        refused = server.Admin()->CreateEnrollmentToken(&ctx, req, &resp);
        return !refused.ok();
      },
      absl::Seconds(20)));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_NE(refused.error_message().find("disk full: " + server.data_dir()), std::string::npos)
      << refused.error_message();
  // Reads still work.
  EXPECT_TRUE(server.List().ok());
  // The agents keep trying meanwhile: many refused writes, one log line.
  absl::SleepFor(absl::Seconds(4));
  std::string log = server.Log();
  EXPECT_EQ(CountLines(log, "disk full: " + server.data_dir() + ": writes are refused"), 1) << log;
  // Besides that line, only the refused operator call's own access line.
  EXPECT_LE(CountLines(log, "disk full"), 3) << log;
  {
    auto c = db::Connection::OpenFile(db_path, SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(c.ok());
    auto s = (*c)->Prepare("PRAGMA integrity_check");
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(*s->Step());
    EXPECT_EQ(s->Text(0), "ok");
  }

  // Room again: the same server carries on by itself.
  ASSERT_EQ(::unlink(ballast.c_str()), 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto l = server.List();
        if (!l.ok() || l->size() != 4) return false;
        for (const auto& e : *l) {
          if (e.state() != v1::ENDPOINT_STATE_ONBOARDED) return false;
        }
        return true;
      },
      absl::Seconds(45)))
      << server.Log();
  log = server.Log();
  EXPECT_EQ(CountLines(log, "disk space is back on " + server.data_dir()), 1) << log;
  EXPECT_EQ(CountLines(log, "serving on port"), 1) << "the server restarted";
  for (auto& a : agents) EXPECT_TRUE(a->Running()) << a->Log();
}

}  // namespace
}  // namespace purser::testing
