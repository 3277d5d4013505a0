// purser-server as a service: its --config file, and SIGHUP (systemctl
// reload) serving an edited plans directory and log level while an agent's
// long poll stays open on its connection.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_replace.h"
#include "grpcpp/client_context.h"
#include "shared/files.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

absl::StatusOr<std::vector<std::string>> PlanNames(const TestServer& server) {
  v1::ListPlansRequest req;
  v1::ListPlansResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status st = server.Admin()->ListPlans(&ctx, req, &resp);
  if (!st.ok()) return absl::UnavailableError(st.error_message());
  std::vector<std::string> names;
  for (const auto& p : resp.plans()) names.push_back(p.name());
  return names;
}

bool Has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(Reload, SighupServesTheNewPlansWhileALongPollStaysOpen) {
  TempDir dir;
  const std::string conf = dir.Sub("purser-server.conf");
  ASSERT_TRUE(WriteFileAtomic(conf, "# as an administrator writes it\nlog_level = warning\n").ok());
  TestServer server(dir.path(), {"--config=" + conf});
  ASSERT_TRUE(server.Start().ok());
  const std::string started = "\n" + server.Log();
  EXPECT_EQ(started.find("\nI "), std::string::npos) << "log_level = warning is applied";
  auto token = server.Token(1);
  ASSERT_TRUE(token.ok());
  auto agent = EnrollRaw(server, *token, Win7Inventory("reload"), dir.Sub("agent"));
  ASSERT_TRUE(agent.ok()) << agent.status();
  const std::string id = agent->identity.endpoint_id;
  ASSERT_FALSE(server.StartRun("added-by-reload", {id}, {}).ok());  // not a plan yet

  // The agent's long poll is open across the reload, on its one connection.
  grpc::Status poll_status;
  v1::WaitForWorkResponse work;
  std::thread poll([&] {
    v1::WaitForWorkRequest req;
    req.set_wait_seconds(25);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    poll_status = agent->stub->WaitForWork(&ctx, req, &work);
  });

  // The administrator adds a plan, turns the log up, and reloads.
  std::string plan = Slurp(std::string(PURSER_TEST_PLANS_DIR) + "/lease-test.textproto");
  plan = absl::StrReplaceAll(plan, {{"name: \"lease-test\"", "name: \"added-by-reload\""}});
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("plans/added-by-reload.textproto"), plan).ok());
  ASSERT_TRUE(WriteFileAtomic(conf, "log_level = info\n").ok());
  server.Kill(SIGHUP);
  ASSERT_TRUE(WaitUntil([&] { return server.StartRun("added-by-reload", {id}, {}).ok(); }))
      << server.Log();
  poll.join();
  ASSERT_TRUE(poll_status.ok()) << poll_status.error_message();
  ASSERT_TRUE(work.has_job()) << "the long poll opened before the reload got the new plan's job";
  EXPECT_EQ(work.job().plan_name(), "added-by-reload");
  EXPECT_NE(server.Log().find("reloaded"), std::string::npos) << server.Log();

  // A broken plan: one error naming the file, and the plans in use stay.
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("plans/broken.textproto"), "name: \"broken\"\nsteps {").ok());
  server.Kill(SIGHUP);
  ASSERT_TRUE(WaitUntil([&] {
    return server.Log().find("plans not reloaded") != std::string::npos;
  })) << server.Log();
  std::string log = server.Log();
  size_t error = log.find("plans not reloaded");
  std::string line = log.substr(error, log.find('\n', error) - error);
  EXPECT_NE(line.find(dir.Sub("plans/broken.textproto")), std::string::npos) << line;
  auto names = PlanNames(server);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_TRUE(Has(*names, "added-by-reload"));
  EXPECT_TRUE(Has(*names, "mde-downlevel-onboard"));
  EXPECT_FALSE(Has(*names, "broken"));

  // A broken config file: the error names file, line and key; the server serves on.
  ASSERT_TRUE(WriteFileAtomic(conf, "log_level = loud\n").ok());
  server.Kill(SIGHUP);
  ASSERT_TRUE(WaitUntil([&] {
    return server.Log().find(conf + ":1: log_level") != std::string::npos;
  })) << server.Log();
  EXPECT_TRUE(PlanNames(server).ok());
  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(), 0) << server.Log();
}

TEST(Reload, ABadConfigFileStopsTheServerNamingFileLineAndKey) {
  TempDir dir;
  const std::string conf = dir.Sub("purser-server.conf");
  ASSERT_TRUE(WriteFileAtomic(conf, "data_dir = " + dir.Sub("data") + "\n\nworkers = lots\n").ok());
  auto p = Process::Spawn({PURSER_SERVER_BIN, "--config=" + conf}, dir.Sub("server.log"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)->Wait(), 2);
  EXPECT_NE((*p)->Log().find(conf + ":3: workers: "), std::string::npos) << (*p)->Log();
  EXPECT_FALSE(PathExists(dir.Sub("data"))) << "nothing was started";
}

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Reload, ARestartOnlySettingIsToldAtEveryReloadUntilARestart) {
  TempDir dir;
  const std::string conf = dir.Sub("purser-server.conf");
  ASSERT_TRUE(WriteFileAtomic(conf, "workers = 4\n").ok());
  TestServer server(dir.path(), {"--config=" + conf});
  ASSERT_TRUE(server.Start().ok());
  const std::string warning = "reload: workers changed in " + conf;
  ASSERT_TRUE(WriteFileAtomic(conf, "workers = 5\n").ok());
  for (size_t reload = 1; reload <= 2; ++reload) {
    server.Kill(SIGHUP);
    ASSERT_TRUE(WaitUntil([&] { return Occurrences(server.Log(), "reloaded ") == reload; }))
        << server.Log();
    EXPECT_EQ(Occurrences(server.Log(), warning), reload) << server.Log();
  }
  // Back to the value in use: nothing to tell.
  ASSERT_TRUE(WriteFileAtomic(conf, "workers = 4\n").ok());
  server.Kill(SIGHUP);
  ASSERT_TRUE(WaitUntil([&] { return Occurrences(server.Log(), "reloaded ") == 3; }))
      << server.Log();
  EXPECT_EQ(Occurrences(server.Log(), warning), 2u) << server.Log();
  EXPECT_EQ(Occurrences(server.Log(), "next restart"), 2u) << server.Log();
  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(), 0) << server.Log();
}

// A service manager's notification socket (sd_notify(3)): the datagrams the
// server sends, in order.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);  // inherited by the server
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
  }
  bool bound() const { return bound_; }
  // The next message, or "" after `timeout_ms`.
  std::string Next(int timeout_ms = 20000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return "";
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(Reload, TellsTheServiceManagerReadyReloadingAndStopping) {
  TempDir dir;
  NotifySocket notify(dir.Sub("notify"));
  ASSERT_TRUE(notify.bound());
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  std::string ready = notify.Next();
  EXPECT_EQ(ready, "READY=1\nSTATUS=serving on port " + server.address().substr(10));
  server.Kill(SIGHUP);
  EXPECT_EQ(notify.Next(), "RELOADING=1");
  EXPECT_EQ(notify.Next(), "READY=1");
  server.Kill(SIGTERM);
  EXPECT_EQ(notify.Next(), "STOPPING=1");
  EXPECT_EQ(server.Wait(), 0);
}

}  // namespace
}  // namespace purser::testing
