// The end-to-end proof that a real Windows machine is onboarded: a Wine
// prefix set up as Windows 7 SP1 x64 Enterprise, the agent installed from
// its MSI as the PurserAgent service, the real Windows executor driving
// stand-ins for the Microsoft tools and software it runs
// (tests/integration/wine/standin: wusa, MMA's package and installer,
// PowerShell, netsh, the HealthService and Sense services), onboarded
// through a real server by a campaign with the default plan, each reboot
// acted out, then offboarded. The stand-ins record every command line they
// are started with; the test holds them to the command lines of Microsoft's
// down-level onboarding guide.
//
// One prefix per test binary run (the WineOnboardingTest suite shares it):
// it takes 20-80 s to initialise. Wine is required: without it the tests
// fail, naming the packages to install.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <regex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/plan/plan_loader.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

namespace fs = std::filesystem;

// --- processes ---------------------------------------------------------------

struct CmdResult {
  int code = -1;  // exit code, 128+signal, -1 when it timed out (then killed)
  std::string out;
};

using Env = std::vector<std::pair<std::string, std::string>>;

// Starts argv (PATH searched) with env set, stdin from in_fd (or
// /dev/null), stdout and stderr to out_path, in a process group of its own.
pid_t SpawnWith(const std::vector<std::string>& argv, const Env& env, int in_fd,
                const std::string& out_path) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::setpgid(0, 0);
  for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
  int in = in_fd >= 0 ? in_fd : ::open("/dev/null", O_RDONLY);
  ::dup2(in, 0);
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ::dup2(out, 1);
  ::dup2(out, 2);
  for (int fd = 3; fd < 1024; ++fd) ::close(fd);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

// Waits for pid; its exit code, 128+signal, or -1 after timeout (the
// process group is then killed).
int WaitPid(pid_t pid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  int st = 0;
  while (true) {
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r < 0) return -1;
    if (absl::Now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

// Output goes to a file, not a pipe: a first Wine process starts the
// wineserver and services, which inherit its descriptors and outlive it.
CmdResult Run(const std::vector<std::string>& argv, const Env& env, const std::string& scratch,
              absl::Duration timeout = absl::Seconds(60)) {
  ::unlink(scratch.c_str());
  CmdResult r;
  pid_t pid = SpawnWith(argv, env, -1, scratch);
  if (pid < 0) return r;
  r.code = WaitPid(pid, timeout);
  r.out = absl::StrReplaceAll(Slurp(scratch), {{"\r", ""}});
  return r;
}

bool OnPath(const std::string& tool) {
  for (auto dir : absl::StrSplit(std::getenv("PATH") ? std::getenv("PATH") : "", ':')) {
    if (::access(absl::StrCat(dir, "/", tool).c_str(), X_OK) == 0) return true;
  }
  return false;
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A Windows path for a host path (Wine's Z: drive is /).
std::string ZPath(const std::string& host) {
  return "Z:" + absl::StrReplaceAll(host, {{"/", "\\"}});
}

// --- the Windows machine -------------------------------------------------------

// A record of the stand-ins' calls log (C:\purser-standin\calls.log).
struct Call {
  std::string tool, cmdline, note;
  std::vector<std::string> argv;
};

// The Wine prefix: Windows 7 SP1 x64 Enterprise with the stand-ins at the
// tools' paths, booted with a keeper process (Wine stops its services when
// the last Windows process of a prefix ends).
class WineMachine {
 public:
  explicit WineMachine(std::string root) : root_(std::move(root)) {}
  ~WineMachine() { Halt(); }

  std::string prefix() const { return root_ + "/prefix"; }
  std::string C(const std::string& rel) const { return prefix() + "/drive_c/" + rel; }
  std::string AgentLog() const { return Slurp(C("ProgramData/Purser/logs/purser-agent.log")); }
  int boots() const { return boots_; }

  Env WineEnv() const {
    // The stand-ins are native programs where Wine has builtins of the same
    // name: Wine must load them. +eventlog: ReportEvent's events go to the
    // keeper's log, which stands for the event log.
    return {{"WINEPREFIX", prefix()},
            {"WINEDEBUG", "-all,+eventlog"},
            {"WINEDLLOVERRIDES", "wusa.exe,netsh.exe,powershell.exe=n"}};
  }

  // Runs a Windows program (or wine tool) in the prefix.
  CmdResult Wine(std::vector<std::string> argv, absl::Duration timeout = absl::Seconds(60)) {
    if (argv.empty() || (argv[0] != "wineboot" && argv[0] != "wineserver")) {
      argv.insert(argv.begin(), "wine");
    }
    return Run(argv, WineEnv(), root_ + "/cmd.out", timeout);
  }

  // Creates the prefix and installs the stand-ins; "" or what failed.
  std::string Create() {
    if (!OnPath("wine") || !OnPath("wineboot") || !OnPath("wineserver")) {
      return "wine is not installed: the Wine end-to-end test needs Debian's wine and wine64 "
             "packages (scripts/setup.sh installs them)";
    }
    CmdResult r = Wine({"wineboot", "--init"}, absl::Seconds(180));
    Wine({"wineserver", "-w"}, absl::Seconds(60));
    if (r.code != 0 || !PathExists(C("windows/system32/kernel32.dll"))) {
      return absl::StrCat("wineboot --init failed (exit code ", r.code, "): ", r.out);
    }
    const std::string standin = PURSER_WINE_STANDIN_EXE;
    for (const char* path :
         {"windows/system32/wusa.exe", "windows/system32/netsh.exe",
          "windows/system32/WindowsPowerShell/v1.0/powershell.exe",
          "windows/servicing/TrustedInstaller.exe", "purser-standin/purser-shutdown.exe"}) {
      std::error_code ec;
      fs::create_directories(fs::path(C(path)).parent_path(), ec);
      fs::copy_file(standin, C(path), fs::copy_options::overwrite_existing, ec);
      if (ec) return absl::StrCat("cannot install the stand-in as C:\\", path, ": ", ec.message());
    }
    if (std::string err = Boot(); !err.empty()) return err;
    r = Wine({"reg", "add", R"(HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion)", "/v",
              "EditionID", "/t", "REG_SZ", "/d", "Enterprise", "/f"});
    if (r.code != 0) return "cannot set EditionID: " + r.out;
    return "";
  }

  // Starts the prefix: the keeper, whose start boots Wine (wineboot,
  // services.exe, the automatically started services).
  std::string Boot() {
    // Close-on-exec: a process started later (the server) must not hold
    // the keeper's stdin open, or it never sees the end of it.
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return "pipe failed";
    keeper_log_ = absl::StrCat(root_, "/keeper.", boots_, ".log");
    keeper_ = SpawnWith({"wine", "cmd", "/c", "pause"}, WineEnv(), fds[0], keeper_log_);
    ::close(fds[0]);
    keeper_in_ = fds[1];
    ++boots_;
    // The keeper must be the session's first process: the one that starts
    // wineboot and services.exe, whose services then write to its log. It
    // runs once the session is up.
    if (!WaitUntil([&] { return absl::StrContains(Slurp(keeper_log_), "Press any key"); },
                   absl::Seconds(90))) {
      return "the prefix did not start: " + Slurp(keeper_log_);
    }
    CmdResult r = Wine({"cmd", "/c", "echo", "booted"});
    if (!absl::StrContains(r.out, "booted")) return "the prefix does not run programs: " + r.out;
    return "";
  }

  // Ends the prefix: the keeper exits, Wine ends every process and service
  // (it sends them no SERVICE_CONTROL_SHUTDOWN), the wineserver exits.
  void Halt() {
    if (keeper_ <= 0) return;
    ::close(keeper_in_);
    WaitPid(keeper_, absl::Seconds(30));
    keeper_ = -1;
    if (Wine({"wineserver", "-w"}, absl::Seconds(60)).code != 0) {
      Wine({"wineserver", "-k"}, absl::Seconds(30));
    }
  }

  // A restart as Windows does it: the running services are stopped (by the
  // SCM: Windows sends SERVICE_CONTROL_SHUTDOWN, which Wine neither sends
  // nor lets a program send; they get SERVICE_CONTROL_STOP, which the
  // agent's service handles the same way), servicing takes the staged
  // updates into effect before any service starts again, the machine goes
  // down and comes back; PurserAgent, HealthService and Sense start
  // automatically. "" or what failed.
  std::string Restart() {
    int started = Count(AgentLog(), "service: starting: version");
    CmdResult r =
        Wine({R"(C:\purser-standin\purser-shutdown.exe)", "PurserAgent", "Sense", "HealthService"});
    if (r.code != 0) return "stopping the services failed: " + r.out;
    r = Wine({R"(C:\Windows\servicing\TrustedInstaller.exe)"});
    if (r.code != 0) return "servicing failed: " + r.out;
    Halt();
    if (std::string err = Boot(); !err.empty()) return err;
    if (!WaitUntil([&] { return Count(AgentLog(), "service: starting: version") > started; },
                   absl::Seconds(60))) {
      return "PurserAgent did not start after the restart";
    }
    return "";
  }

  // The service's state as sc query shows it ("RUNNING", "STOPPED", or ""
  // when it does not exist).
  std::string ServiceState(const std::string& name) {
    CmdResult r = Wine({"sc", "query", name});
    std::smatch m;
    static const std::regex state(R"(STATE\s+:\s+\d+\s+(\w+))");
    return std::regex_search(r.out, m, state) ? m[1].str() : "";
  }

  std::vector<Call> Calls() const {
    std::vector<Call> out;
    for (absl::string_view line : absl::StrSplit(Slurp(C("purser-standin/calls.log")), '\n')) {
      line = absl::StripTrailingAsciiWhitespace(line);
      if (line.empty()) continue;
      google::protobuf::Struct s;
      if (!google::protobuf::util::JsonStringToMessage(std::string(line), &s).ok()) {
        ADD_FAILURE() << "calls.log: not JSON: " << line;
        continue;
      }
      Call c;
      c.tool = s.fields().at("tool").string_value();
      c.cmdline = s.fields().at("cmdline").string_value();
      if (s.fields().count("note")) c.note = s.fields().at("note").string_value();
      for (const auto& v : s.fields().at("argv").list_value().values()) {
        c.argv.push_back(v.string_value());
      }
      out.push_back(std::move(c));
    }
    return out;
  }

  // Everything the event log received (the keeper logs, +eventlog).
  std::string EventLog() const {
    std::string all;
    for (int i = 0; i < boots_; ++i) all += Slurp(absl::StrCat(root_, "/keeper.", i, ".log"));
    return all;
  }

 private:
  std::string root_;
  pid_t keeper_ = -1;
  int keeper_in_ = -1;
  int boots_ = 0;
  std::string keeper_log_;
};

// --- a plain HTTP server for the connectivity check ----------------------------

// The machine cannot reach Microsoft from here: the plan's service_urls
// point at this server (plain HTTP: Wine's WinHTTP trusts only the host's
// root certificates, so no local HTTPS server can be trusted without
// changing the host). It answers 200 and keeps each request's head.
class HttpServer {
 public:
  HttpServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(fd_, 16);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~HttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  std::vector<std::string> Requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 5000) <= 0) break;
        ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0) break;
        head.append(buf, n);
      }
      static const char kAnswer[] =
          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      ::send(c, kAnswer, sizeof(kAnswer) - 1, MSG_NOSIGNAL);
      ::close(c);
      std::lock_guard<std::mutex> l(mu_);
      requests_.push_back(head);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

// --- the shared machine and server ---------------------------------------------

// A workspace key shaped like a real one (base64 of 64 bytes).
const std::string kWorkspaceKey =
    "cHVyc2VyLXdpbmUtZTJlLXdvcmtzcGFjZS1rZXk+/3d7b1c0f4a29e6+0a1/8c5d2e7f90b4a6c3e1d/"
    "5f7a9b2c4==";
const std::string kWorkspaceId = "7f3c2a91-5b64-4e0d-9c18-2d6e4f0a8b53";
const std::string kKeySecret = "wine-workspace-key";

// The stand-in's update package for a plan artifact named like
// "Windows6.1-KB4074598-x64.msu" (updates.go): the KB and the Windows
// version and architecture its name gives; the three updates that need a
// restart in reality need one here.
std::string UpdatePackage(const std::string& name, const std::string& result = "") {
  static const std::regex re(R"((?:Windows(\d+\.\d+)-)?(KB\d+)-(x64|x86)\.msu)");
  std::smatch m;
  if (!std::regex_match(name, m, re)) return "";
  std::string kb = m[2];
  // Servicing names Windows by its NT version: 8.1 is 6.3.
  std::string version = !m[1].matched ? "6.1" : m[1] == "8.1" ? "6.3" : m[1].str();
  bool restart = kb == "KB4074598" || kb == "KB4474419" || kb == "KB3154518";
  std::string out = absl::StrCat("# Purser Wine stand-in update package\r\nkb=", kb,
                                 "\r\napplies-to=", version, " ", m[3] == "x64" ? "amd64" : "x86",
                                 "\r\nrestart=", restart ? "required" : "none", "\r\n");
  if (!result.empty()) out += "result=" + result + "\r\n";
  return out;
}

class WineOnboardingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    setup_error_ = new std::string(SetUpMachine());
  }

  static void TearDownTestSuite() {
    if (machine_) machine_->Halt();
    if (server_) {
      server_->Kill(SIGTERM);
      server_->Wait();
    }
    delete machine_;
    delete server_;
    delete setup_error_;
    delete dir_;
    machine_ = nullptr;
    server_ = nullptr;
  }

  // The prefix, the server with the default plan's packages, the agent
  // installed from its MSI and enrolled; "" or what failed.
  static std::string SetUpMachine() {
    absl::Time t0 = absl::Now();
    machine_ = new WineMachine(dir_->Sub("wine"));
    fs::create_directories(dir_->Sub("wine"));
    if (std::string err = machine_->Create(); !err.empty()) return err;
    std::cerr << "[wine] prefix ready in " << absl::Now() - t0 << "\n";

    server_ = new TestServer(dir_->Sub("server"), {"--campaign_tick_ms=100"});
    if (auto st = server_->Start(); !st.ok()) return st.ToString();
    v1::PutSecretRequest secret;
    secret.set_name(kKeySecret);
    secret.set_value(kWorkspaceKey);
    v1::PutSecretResponse secret_resp;
    grpc::ClientContext ctx;
    if (!server_->Admin()->PutSecret(&ctx, secret, &secret_resp).ok()) return "PutSecret failed";
    auto plan = LoadPlanFile(std::string(PURSER_PLANS_DIR) + "/mde-downlevel-onboard.textproto");
    if (!plan.ok()) return plan.status().ToString();
    std::string standin = Slurp(PURSER_WINE_STANDIN_EXE);
    for (const auto& a : plan->artifacts()) {
      // The MMA packages are the stand-in itself (it plays the package it
      // is named after); the updates are its update packages. The server
      // keeps one name per content (a second name for the same bytes
      // replaces the first): the 32-bit package, never run here, carries
      // a trailer of its own.
      std::string data = a.name() == "MMASetup-AMD64.exe" ? standin
                         : a.name() == "MMASetup-i386.exe"
                             ? standin + "\r\n# MMASetup-i386.exe stand-in\r\n"
                             : UpdatePackage(a.name());
      if (data.empty()) return "no stand-in for artifact " + a.name();
      if (auto up = server_->Upload(a.name(), data); !up.ok()) return up.status().ToString();
    }

    auto token = server_->TokenFile(1);
    if (!token.ok()) return token.status().ToString();
    CmdResult r =
        machine_->Wine({"msiexec", "/i", ZPath(PURSER_AGENT_MSI64), "SERVER=" + server_->address(),
                        "CAFILE=" + ZPath(server_->ca_path()), "TOKENFILE=" + ZPath(*token), "/qn"},
                       absl::Seconds(120));
    if (r.code != 0) {
      return absl::StrCat("msiexec /i failed (exit code ", r.code, "): ", r.out, "\nsetup.log:\n",
                          Slurp(machine_->C("ProgramData/Purser/logs/setup.log")));
    }
    bool enrolled = WaitUntil(
        [&] {
          auto list = server_->List();
          if (!list.ok() || list->empty()) return false;
          endpoint_id_ = (*list)[0].id();
          return true;
        },
        absl::Seconds(60));
    if (!enrolled) return "the agent did not enroll; its log:\n" + machine_->AgentLog();
    std::cerr << "[wine] agent installed and enrolled in " << absl::Now() - t0 << "\n";
    return "";
  }

  void SetUp() override { ASSERT_TRUE(setup_error_->empty()) << *setup_error_; }

  v1::GetEndpointResponse Endpoint() {
    auto e = server_->Get(endpoint_id_);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : v1::GetEndpointResponse();
  }

  static const v1::JobInfo* Job(const v1::GetEndpointResponse& e, const std::string& run,
                                const std::string& step) {
    for (const auto& j : e.jobs()) {
      if (j.run_id() == run && j.step_id() == step) return &j;
    }
    return nullptr;
  }

  v1::EndpointHistory History() {
    v1::GetEndpointHistoryRequest req;
    req.set_id(endpoint_id_);
    v1::EndpointHistory h;
    grpc::ClientContext ctx;
    EXPECT_TRUE(server_->Admin()->GetEndpointHistory(&ctx, req, &h).ok());
    return h;
  }

  // The outcome the agent reported for a job's last attempt.
  v1::StepOutcome Outcome(const std::string& job_id) {
    v1::StepOutcome out = v1::STEP_OUTCOME_UNSPECIFIED;
    const v1::EndpointHistory h = History();
    for (const auto& e : h.entries()) {
      if (e.job_id() == job_id && e.outcome() != v1::STEP_OUTCOME_UNSPECIFIED) out = e.outcome();
    }
    return out;
  }

  // What went wrong, for a failure message.
  std::string Diagnose() {
    std::string calls;
    for (const auto& c : machine_->Calls()) {
      calls += absl::StrCat(c.tool, ": ", c.note.empty() ? c.cmdline : c.note, "\n");
    }
    std::string log = machine_->AgentLog();
    if (log.size() > 6000) log = log.substr(log.size() - 6000);
    return absl::StrCat("endpoint: ", Endpoint().DebugString(), "\nagent log (tail):\n", log,
                        "\nstand-in calls:\n", calls);
  }

  // Waits for the endpoint to reach `state`, acting out each reboot the
  // agent is told to do; false on timeout or another final state.
  bool Drive(v1::EndpointState state, absl::Duration timeout, int* reboots) {
    absl::Time deadline = absl::Now() + timeout;
    int handled = Count(machine_->AgentLog(), kRebooting);
    while (absl::Now() < deadline) {
      auto e = server_->Get(endpoint_id_);
      if (e.ok() && e->endpoint().state() == state) return true;
      if (e.ok() && (e->endpoint().state() == v1::ENDPOINT_STATE_FAILED ||
                     e->endpoint().state() == v1::ENDPOINT_STATE_BLOCKED)) {
        return false;
      }
      int asked = Count(machine_->AgentLog(), kRebooting);
      if (asked > handled) {
        // The agent ordered the restart (Wine takes the order and does
        // nothing) and waits for the shutdown: it is acted out.
        absl::Time t = absl::Now();
        std::string err = machine_->Restart();
        EXPECT_EQ(err, "");
        if (!err.empty()) return false;
        std::cerr << "[wine] restart " << ++*reboots << " acted out in " << absl::Now() - t << "\n";
        handled = asked;
        continue;
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
    return false;
  }

  static constexpr char kRebooting[] = "rebooting: a step asked for it";

  static TempDir* dir_;
  static WineMachine* machine_;
  static TestServer* server_;
  static std::string* setup_error_;
  static std::string endpoint_id_;
};

TempDir* WineOnboardingTest::dir_ = nullptr;
WineMachine* WineOnboardingTest::machine_ = nullptr;
TestServer* WineOnboardingTest::server_ = nullptr;
std::string* WineOnboardingTest::setup_error_ = nullptr;
std::string WineOnboardingTest::endpoint_id_;

// C:\ProgramData\Purser\work\<prefix>-<n>\: a step's own directory.
const char kWork[] = R"(C:\\ProgramData\\Purser\\work\\)";

TEST_F(WineOnboardingTest, DefaultPlanOnboardsThroughRebootsAndOffboards) {
  absl::Time t0 = absl::Now();
  // What this test adds to the calls log and the agent's log.
  const size_t calls_before = machine_->Calls().size();
  const int stops_before = Count(machine_->AgentLog(), "stopped by the service control manager");
  auto calls_since = [&] {
    std::vector<Call> all = machine_->Calls();
    return std::vector<Call>(all.begin() + std::min(calls_before, all.size()), all.end());
  };
  // The machine as the agent reported it when it enrolled.
  v1::Endpoint enrolled = Endpoint().endpoint();
  EXPECT_EQ(enrolled.os().product(), v1::OS_PRODUCT_WINDOWS_7) << enrolled.DebugString();
  EXPECT_EQ(enrolled.os().version(), "6.1.7601");
  EXPECT_EQ(enrolled.os().service_pack(), 1);
  EXPECT_EQ(enrolled.os().edition(), "Enterprise");
  EXPECT_EQ(enrolled.os().arch(), v1::ARCH_X64);
  EXPECT_EQ(enrolled.os().product_type(), v1::PRODUCT_TYPE_WORKSTATION);
  EXPECT_EQ(enrolled.agent_arch(), v1::ARCH_X64);
  for (const auto& kb : enrolled.installed_kbs()) {
    EXPECT_FALSE(absl::StrContains("KB3080149 KB3154518 KB4074598 KB4474419 KB4490628", kb)) << kb;
  }
  EXPECT_FALSE(enrolled.pending_reboot());
  // The MSI installed the agent as the PurserAgent service.
  EXPECT_TRUE(PathExists(machine_->C("Program Files/Purser/purser-agent.exe")));
  EXPECT_EQ(machine_->ServiceState("PurserAgent"), "RUNNING");

  // A campaign over this endpoint with the default plan; reboots now.
  HttpServer defender;
  const std::string urls = absl::StrCat(defender.Url("/winatp-gw-cus.microsoft.com"), ",",
                                        defender.Url("/ods.opinsights.azure.com"));
  v1::CreateCampaignRequest req;
  req.set_name("wine-onboarding");
  req.set_plan_name("mde-downlevel-onboard");
  (*req.mutable_params())["workspace_id"] = kWorkspaceId;
  (*req.mutable_params())["workspace_key"] = kKeySecret;
  (*req.mutable_params())["service_urls"] = urls;
  req.mutable_target()->add_endpoint_ids(endpoint_id_);
  req.mutable_policy()->mutable_reboot_policy()->set_mode(v1::RebootPolicy::MODE_NOW);
  v1::Campaign campaign;
  {
    grpc::ClientContext ctx;
    grpc::Status st = server_->Admin()->CreateCampaign(&ctx, req, &campaign);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  {
    // The campaign starts its run on the endpoint.
    v1::GetCampaignRequest greq;
    greq.set_id(campaign.id());
    v1::GetCampaignResponse g;
    ASSERT_TRUE(WaitUntil([&] {
      grpc::ClientContext ctx;
      return server_->Admin()->GetCampaign(&ctx, greq, &g).ok() && g.members_size() == 1 &&
             g.members(0).state() != v1::MEMBER_STATE_PENDING;
    })) << g.DebugString();
    ASSERT_EQ(g.members(0).state(), v1::MEMBER_STATE_RUNNING) << g.DebugString();
  }
  int reboots = 0;
  ASSERT_TRUE(Drive(v1::ENDPOINT_STATE_ONBOARDED, absl::Seconds(240), &reboots)) << Diagnose();
  std::cerr << "[wine] onboarded in " << absl::Now() - t0 << "\n";
  v1::GetEndpointResponse e = Endpoint();
  const std::string run = e.endpoint().run_id();

  // Three restarts: KB4074598, KB3154518 and KB4474419 each needed one.
  EXPECT_EQ(reboots, 3);
  EXPECT_FALSE(e.endpoint().pending_reboot());
  for (const char* kb : {"KB3080149", "KB3154518", "KB4074598", "KB4474419", "KB4490628"}) {
    EXPECT_NE(
        std::find(e.endpoint().installed_kbs().begin(), e.endpoint().installed_kbs().end(), kb),
        e.endpoint().installed_kbs().end())
        << kb << " not in " << e.endpoint().DebugString();
  }
  {
    v1::GetCampaignRequest greq;
    greq.set_id(campaign.id());
    v1::GetCampaignResponse g;
    ASSERT_TRUE(WaitUntil([&] {
      grpc::ClientContext ctx;
      return server_->Admin()->GetCampaign(&ctx, greq, &g).ok() &&
             g.campaign().state() == v1::CAMPAIGN_STATE_COMPLETED;
    })) << g.DebugString();
    EXPECT_EQ(g.campaign().counters().done(), 1);
    EXPECT_EQ(g.campaign().counters().failed(), 0);
    EXPECT_EQ(g.DebugString().find(kWorkspaceKey), std::string::npos);
  }

  // Every step as the guide expects on Windows 7 SP1 x64 Enterprise.
  struct Expect {
    const char* step;
    v1::JobState state;
    int exit_code;
    v1::StepOutcome outcome;
  };
  const Expect expected[] = {
      {"kb4074598-x64", v1::JOB_STATE_SUCCEEDED, 3010, v1::STEP_OUTCOME_REBOOT_REQUIRED},
      {"kb3080149-nt61-x64", v1::JOB_STATE_SUCCEEDED, 0, v1::STEP_OUTCOME_SUCCEEDED},
      {"tls-kb3154518-x64", v1::JOB_STATE_SUCCEEDED, 3010, v1::STEP_OUTCOME_REBOOT_REQUIRED},
      {"require-tls-support", v1::JOB_STATE_SUCCEEDED, 0, v1::STEP_OUTCOME_SUCCEEDED},
      {"ssu-kb4490628-x64", v1::JOB_STATE_SUCCEEDED, 0, v1::STEP_OUTCOME_SUCCEEDED},
      {"sha2-kb4474419-x64", v1::JOB_STATE_SUCCEEDED, 3010, v1::STEP_OUTCOME_REBOOT_REQUIRED},
      {"install-mma-x64", v1::JOB_STATE_SUCCEEDED, 0, v1::STEP_OUTCOME_SUCCEEDED},
      // A fresh install has the workspace already.
      {"mma-add-workspace", v1::JOB_STATE_SUCCEEDED, 0, v1::STEP_OUTCOME_ALREADY_DONE},
      {"verify-connectivity", v1::JOB_STATE_SUCCEEDED, 0, v1::STEP_OUTCOME_SUCCEEDED},
      {"verify-workspace", v1::JOB_STATE_SUCCEEDED, 0, v1::STEP_OUTCOME_SUCCEEDED},
      {"verify-sense", v1::JOB_STATE_SUCCEEDED, 0, v1::STEP_OUTCOME_SUCCEEDED},
      // Defender AV is recommended, not required: Windows 7 has none here.
      {"report-windefend", v1::JOB_STATE_SUCCEEDED, 0, v1::STEP_OUTCOME_SUCCEEDED},
  };
  for (const Expect& x : expected) {
    SCOPED_TRACE(x.step);
    const v1::JobInfo* j = Job(e, run, x.step);
    ASSERT_NE(j, nullptr) << e.DebugString();
    EXPECT_EQ(j->state(), x.state) << j->DebugString();
    EXPECT_EQ(j->exit_code(), x.exit_code) << j->DebugString();
    EXPECT_EQ(j->attempt(), 1) << j->DebugString();
    EXPECT_EQ(Outcome(j->job_id()), x.outcome);
  }
  // Twelve steps: not the branches the parameters leave out (SCEP, the
  // proxies), nor the other platforms'.
  EXPECT_EQ(e.jobs_size(), 12) << e.DebugString();
  for (const char* step : {"scep-kb3209361-x64", "scep-cloud-protection-advanced", "proxy-winhttp",
                           "proxy-mma", "kb4074598-x86", "kb3080149-nt63-x64", "install-mma-x86"}) {
    EXPECT_EQ(Job(e, run, step), nullptr) << step;
  }
  EXPECT_NE(Job(e, run, "verify-sense")->message().find("sc query sense: RUNNING"),
            std::string::npos);
  EXPECT_NE(Job(e, run, "report-windefend")->message().find("recommended, not required"),
            std::string::npos);

  // The connectivity check reached each URL through WinHTTP.
  std::vector<std::string> requests = defender.Requests();
  ASSERT_EQ(requests.size(), 2u) << absl::StrJoin(requests, "\n");
  EXPECT_TRUE(absl::StartsWith(requests[0], "GET /winatp-gw-cus.microsoft.com HTTP/1.1"))
      << requests[0];
  EXPECT_TRUE(absl::StartsWith(requests[1], "GET /ods.opinsights.azure.com HTTP/1.1"))
      << requests[1];
  EXPECT_NE(requests[0].find("User-Agent: Purser-Agent"), std::string::npos) << requests[0];

  // The machine: MMA, its services, the sensor running, the workspace.
  EXPECT_TRUE(
      PathExists(machine_->C("Program Files/Microsoft Monitoring Agent/Agent/MonitoringHost.exe")));
  EXPECT_EQ(machine_->ServiceState("HealthService"), "RUNNING");
  EXPECT_EQ(machine_->ServiceState("Sense"), "RUNNING");
  const std::string ws_key =
      absl::StrCat(R"(HKLM\SOFTWARE\Purser\WineStandIn\Workspaces\)", kWorkspaceId);
  CmdResult ws = machine_->Wine({"reg", "query", ws_key, "/v", "KeySHA256"});
  EXPECT_NE(ws.out.find(Sha256Hex(kWorkspaceKey)), std::string::npos)
      << "MMA did not get the workspace key intact: " << ws.out;

  // The command lines, as the guide writes them.
  std::vector<Call> calls = calls_since();
  std::vector<Call> starts;  // one record per process start (no note)
  for (const auto& c : calls) {
    if (c.note.empty()) starts.push_back(c);
  }
  std::vector<std::string> wusa_kbs;
  // Windows' own paths as Wine spells them (C:\windows\System32): case
  // does not matter on Windows.
  const std::regex wusa_line(
      absl::StrCat(R"(^C:\\windows\\system32\\wusa\.exe )", kWork,
                   R"(msu-\d+\\(Windows6\.1-(KB\d+)-x64\.msu) /quiet /norestart$)"),
      std::regex::icase);
  const std::regex extract_line(absl::StrCat("^", kWork, R"((pkg-\d+)\\MMASetup-AMD64\.exe /c /t:)",
                                             kWork, R"((pkg-\d+)\\unpacked$)"));
  int extracts = 0, setups = 0, powershells = 0;
  std::vector<std::string> ps_ops;
  for (const auto& c : starts) {
    SCOPED_TRACE(c.cmdline);
    std::smatch m;
    if (c.tool == "wusa.exe") {
      ASSERT_TRUE(std::regex_match(c.cmdline, m, wusa_line));
      wusa_kbs.push_back(m[2]);
      ASSERT_EQ(c.argv.size(), 4u);
      EXPECT_EQ(fs::path(absl::StrReplaceAll(c.argv[1], {{"\\", "/"}})).filename(), m[1].str());
    } else if (c.tool == "mmasetup-amd64.exe") {
      ++extracts;
      ASSERT_TRUE(std::regex_match(c.cmdline, m, extract_line));
      EXPECT_EQ(m[1], m[2]) << "unpacked into its own directory";
    } else if (c.tool == "setup.exe") {
      ++setups;
      ASSERT_GE(c.argv.size(), 1u);
      EXPECT_TRUE(std::regex_match(
          c.argv[0], std::regex(absl::StrCat("^", kWork, R"(pkg-\d+\\unpacked\\setup\.exe$)"))));
      std::vector<std::string> args(c.argv.begin() + 1, c.argv.end());
      EXPECT_EQ(args, (std::vector<std::string>{"/qn", "NOAPM=1", "ADD_OPINSIGHTS_WORKSPACE=1",
                                                "OPINSIGHTS_WORKSPACE_ID=" + kWorkspaceId,
                                                "OPINSIGHTS_WORKSPACE_KEY=" + kWorkspaceKey,
                                                "OPINSIGHTS_WORKSPACE_AZURE_CLOUD_TYPE=0",
                                                "AcceptEndUserLicenseAgreement=1"}));
      EXPECT_TRUE(absl::EndsWith(
          c.cmdline,
          absl::StrCat(
              " /qn NOAPM=1 ADD_OPINSIGHTS_WORKSPACE=1 OPINSIGHTS_WORKSPACE_ID=", kWorkspaceId,
              " OPINSIGHTS_WORKSPACE_KEY=", kWorkspaceKey,
              " OPINSIGHTS_WORKSPACE_AZURE_CLOUD_TYPE=0 AcceptEndUserLicenseAgreement=1")));
    } else if (c.tool == "powershell.exe") {
      ++powershells;
      // (std::regex recurses per character: the script, kilobytes of
      // base64, is checked by hand.)
      const std::string head =
          R"(C:\windows\System32\WindowsPowerShell\v1.0\powershell.exe -NoLogo -NoProfile )"
          R"(-NonInteractive -InputFormat None -ExecutionPolicy Bypass -EncodedCommand )";
      ASSERT_TRUE(absl::StartsWith(c.cmdline, head));
      std::string script = c.cmdline.substr(head.size());
      EXPECT_FALSE(script.empty());
      EXPECT_EQ(script.find_first_not_of(
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
                std::string::npos);
    }
  }
  for (const auto& c : calls) {
    if (c.tool == "powershell.exe" && !c.note.empty()) ps_ops.push_back(c.note);
  }
  EXPECT_EQ(wusa_kbs, (std::vector<std::string>{"KB4074598", "KB3080149", "KB3154518", "KB4490628",
                                                "KB4474419"}));
  EXPECT_EQ(extracts, 1);
  EXPECT_EQ(setups, 1);
  EXPECT_EQ(powershells, 2);
  EXPECT_EQ(ps_ops, (std::vector<std::string>{
                        absl::StrCat("powershell add-workspace(", kWorkspaceId, "): ALREADY"),
                        absl::StrCat("powershell check-workspace(", kWorkspaceId, "): FOUND ",
                                     "The Microsoft Monitoring Agent successfully connected to the "
                                     "Microsoft Operations Management Suite service.")}));
  // Each restart stopped the agent's service and ran servicing, which took
  // that restart's update into effect.
  int agent_stops = 0;
  std::vector<std::string> serviced;
  for (const auto& c : calls) {
    if (c.note == "restart: service PurserAgent stopped") ++agent_stops;
    if (c.tool == "trustedinstaller.exe" && !c.note.empty()) serviced.push_back(c.note);
  }
  EXPECT_EQ(agent_stops, 3);
  ASSERT_EQ(serviced.size(), 3u);
  EXPECT_NE(serviced[0].find("installed Package_for_KB4074598~"), std::string::npos);
  EXPECT_NE(serviced[1].find("installed Package_for_KB3154518~"), std::string::npos);
  EXPECT_NE(serviced[2].find("installed Package_for_KB4474419~"), std::string::npos);
  EXPECT_EQ(Count(machine_->AgentLog(), "stopped by the service control manager") - stops_before,
            3);

  // The workspace key: on setup.exe's command line only.
  for (const auto& c : calls) {
    if (c.tool != "setup.exe") {
      EXPECT_EQ(c.cmdline.find(kWorkspaceKey), std::string::npos) << c.tool;
      EXPECT_EQ(c.note.find(kWorkspaceKey), std::string::npos) << c.tool;
    }
  }
  EXPECT_EQ(Count(Slurp(machine_->C("purser-standin/calls.log")), kWorkspaceKey),
            Count(Slurp(machine_->C("purser-standin/calls.log")), "\"tool\":\"setup.exe\"") * 2)
      << "the key, beyond setup.exe's command line (raw and split), in the calls log";

  // Offboarding: the workspace removed, the sensor stopped, MMA kept.
  auto off =
      server_->StartRun("mde-downlevel-offboard", {endpoint_id_}, {{"workspace_id", kWorkspaceId}});
  ASSERT_TRUE(off.ok()) << off.status();
  ASSERT_TRUE(Drive(v1::ENDPOINT_STATE_OFFBOARDED, absl::Seconds(60), &reboots)) << Diagnose();
  e = Endpoint();
  const std::string off_run = e.endpoint().run_id();
  ASSERT_NE(off_run, run);
  // Two steps: MMA is kept (uninstall_mma is false).
  const v1::JobInfo* remove = Job(e, off_run, "remove-workspace");
  const v1::JobInfo* stopped = Job(e, off_run, "verify-sense-stopped");
  ASSERT_TRUE(remove && stopped) << e.DebugString();
  EXPECT_EQ(Job(e, off_run, "uninstall-mma"), nullptr);
  EXPECT_EQ(Job(e, off_run, "verify-mma-removed"), nullptr);
  EXPECT_EQ(remove->state(), v1::JOB_STATE_SUCCEEDED) << remove->DebugString();
  EXPECT_EQ(Outcome(remove->job_id()), v1::STEP_OUTCOME_SUCCEEDED);
  EXPECT_NE(remove->message().find("RemoveCloudWorkspace(" + kWorkspaceId + ")"), std::string::npos)
      << remove->DebugString();
  EXPECT_EQ(stopped->state(), v1::JOB_STATE_SUCCEEDED) << stopped->DebugString();
  EXPECT_NE(stopped->message().find("sc query sense: STOPPED"), std::string::npos)
      << stopped->DebugString();
  EXPECT_EQ(machine_->ServiceState("Sense"), "STOPPED");
  EXPECT_EQ(machine_->ServiceState("HealthService"), "RUNNING");
  EXPECT_TRUE(
      PathExists(machine_->C("Program Files/Microsoft Monitoring Agent/Agent/MonitoringHost.exe")));
  EXPECT_EQ(reboots, 3) << "offboarding needs no restart";
  calls = calls_since();
  bool removed = false, sense_stopped = false;
  for (const auto& c : calls) {
    removed |= c.note == absl::StrCat("powershell remove-workspace(", kWorkspaceId, "): REMOVED");
    sense_stopped |= c.note == "Sense: SERVICE_CONTROL_STOP received, stopping";
  }
  EXPECT_TRUE(removed);
  EXPECT_TRUE(sense_stopped);
  // Without a Defender workspace the sensor does not run: started by hand,
  // it stops at once, saying why.
  machine_->Wine({"sc", "start", "Sense"});
  EXPECT_TRUE(WaitUntil([&] { return machine_->ServiceState("Sense") == "STOPPED"; }));
  bool refused = false;
  for (const auto& c : calls_since()) {
    refused |= c.note == "Sense: not starting: missing a Defender for Endpoint workspace";
  }
  EXPECT_TRUE(refused);

  // The key is nowhere else: the agent's state and logs, the event log,
  // the server's answers and logs.
  for (const auto& f : fs::recursive_directory_iterator(machine_->C("ProgramData/Purser"))) {
    if (f.is_regular_file()) {
      EXPECT_EQ(Slurp(f.path().string()).find(kWorkspaceKey), std::string::npos) << f.path();
    }
  }
  const std::string agent_log = machine_->AgentLog();
  EXPECT_NE(agent_log.find("install-mma-x64"), std::string::npos) << "the log searched is real";
  const std::string events = machine_->EventLog();
  EXPECT_NE(events.find("service Sense started"), std::string::npos)
      << "the event log searched is real";
  EXPECT_EQ(events.find(kWorkspaceKey), std::string::npos);
  EXPECT_EQ(Endpoint().DebugString().find(kWorkspaceKey), std::string::npos);
  v1::EndpointHistory h = History();
  EXPECT_NE(h.DebugString().find("OPINSIGHTS_WORKSPACE_KEY=${secret:workspace_key}"),
            std::string::npos)
      << "setup's command line is shown with the key's reference";
  EXPECT_EQ(h.DebugString().find(kWorkspaceKey), std::string::npos);
  for (const auto& f : fs::directory_iterator(dir_->Sub("server"))) {
    if (absl::EndsWith(f.path().string(), ".log")) {
      EXPECT_EQ(Slurp(f.path().string()).find(kWorkspaceKey), std::string::npos) << f.path();
    }
  }
  std::cerr << "[wine] onboarded and offboarded in " << absl::Now() - t0 << "\n";
}

// wusa's answers, each classified as the agent's exit-code table says:
// installed, already installed, not applicable (a package for another
// Windows), failure; and netsh's WinHTTP proxy set and reset.
TEST_F(WineOnboardingTest, WusaAnswersAreClassified) {
  const std::string plan = R"pb(
    name: "wine-wusa-answers"
    description: "wusa's answers under Wine"
    purpose: PLAN_PURPOSE_ONBOARD
    artifacts { name: "Windows6.1-KB2999226-x64.msu" }
    artifacts { name: "Windows8.1-KB2999226-x64.msu" }
    artifacts { name: "Windows6.1-KB2999999-x64.msu" }
    steps {
      id: "install"
      kind: STEP_KIND_PATCH
      platforms { product: OS_PRODUCT_WINDOWS_7 min_service_pack: 1 arch: ARCH_X64 }
      artifacts: "Windows6.1-KB2999226-x64.msu"
      install_update { kb: "KB2999226" package: "Windows6.1-KB2999226-x64.msu" }
    }
    steps {
      id: "again"
      kind: STEP_KIND_PATCH
      platforms { product: OS_PRODUCT_WINDOWS_7 min_service_pack: 1 arch: ARCH_X64 }
      artifacts: "Windows6.1-KB2999226-x64.msu"
      install_update { kb: "KB2999226" package: "Windows6.1-KB2999226-x64.msu" }
    }
    steps {
      id: "other-windows"
      kind: STEP_KIND_PATCH
      platforms { product: OS_PRODUCT_WINDOWS_7 min_service_pack: 1 arch: ARCH_X64 }
      artifacts: "Windows8.1-KB2999226-x64.msu"
      install_update { kb: "KB2999226" package: "Windows8.1-KB2999226-x64.msu" }
    }
    steps {
      id: "winhttp-proxy"
      kind: STEP_KIND_CONFIGURE
      platforms { product: OS_PRODUCT_WINDOWS_7 min_service_pack: 1 arch: ARCH_X64 }
      set_proxy { target: TARGET_WINHTTP proxy: "proxy.corp.example:3128" }
    }
    steps {
      id: "winhttp-direct"
      kind: STEP_KIND_CONFIGURE
      platforms { product: OS_PRODUCT_WINDOWS_7 min_service_pack: 1 arch: ARCH_X64 }
      set_proxy { target: TARGET_WINHTTP proxy: "" }
    }
    steps {
      id: "failing"
      kind: STEP_KIND_PATCH
      platforms { product: OS_PRODUCT_WINDOWS_7 min_service_pack: 1 arch: ARCH_X64 }
      max_attempts: 1
      artifacts: "Windows6.1-KB2999999-x64.msu"
      install_update { kb: "KB2999999" package: "Windows6.1-KB2999999-x64.msu" }
    }
  )pb";
  {
    v1::UploadPlanRequest req;
    req.set_filename("wine-wusa-answers.textproto");
    req.set_text(plan);
    v1::Plan out;
    grpc::ClientContext ctx;
    grpc::Status st = server_->Admin()->UploadPlan(&ctx, req, &out);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  for (const char* name : {"Windows6.1-KB2999226-x64.msu", "Windows8.1-KB2999226-x64.msu"}) {
    ASSERT_TRUE(server_->Upload(name, UpdatePackage(name)).ok());
  }
  ASSERT_TRUE(server_
                  ->Upload("Windows6.1-KB2999999-x64.msu",
                           UpdatePackage("Windows6.1-KB2999999-x64.msu", "0x80070643"))
                  .ok());
  size_t before = machine_->Calls().size();
  auto started = server_->StartRun("wine-wusa-answers", {endpoint_id_}, {});
  ASSERT_TRUE(started.ok()) << started.status();
  int reboots = 0;
  EXPECT_FALSE(Drive(v1::ENDPOINT_STATE_ONBOARDED, absl::Seconds(90), &reboots));
  v1::GetEndpointResponse e = Endpoint();
  ASSERT_EQ(e.endpoint().state(), v1::ENDPOINT_STATE_FAILED) << Diagnose();
  EXPECT_EQ(reboots, 0);
  const std::string run = e.endpoint().run_id();
  struct Expect {
    const char* step;
    v1::JobState state;
    int exit_code;
    v1::StepOutcome outcome;
    const char* message;
  };
  const Expect expected[] = {
      {"install", v1::JOB_STATE_SUCCEEDED, 0, v1::STEP_OUTCOME_SUCCEEDED, "KB2999226 installed"},
      {"again", v1::JOB_STATE_SUCCEEDED, 0x00240006, v1::STEP_OUTCOME_ALREADY_DONE,
       "KB2999226 is already installed"},
      {"other-windows", v1::JOB_STATE_SKIPPED, static_cast<int>(0x80240017u),
       v1::STEP_OUTCOME_SKIPPED, "does not apply to this system"},
      {"winhttp-proxy", v1::JOB_STATE_SUCCEEDED, 0, v1::STEP_OUTCOME_SUCCEEDED,
       "proxy proxy.corp.example:3128"},
      {"winhttp-direct", v1::JOB_STATE_SUCCEEDED, 0, v1::STEP_OUTCOME_SUCCEEDED,
       "direct connection"},
      {"failing", v1::JOB_STATE_FAILED, static_cast<int>(0x80070643u), v1::STEP_OUTCOME_FAILED,
       "fatal error during installation (0x80070643)"},
  };
  for (const Expect& x : expected) {
    SCOPED_TRACE(x.step);
    const v1::JobInfo* j = Job(e, run, x.step);
    ASSERT_NE(j, nullptr) << e.DebugString();
    EXPECT_EQ(j->state(), x.state) << j->DebugString();
    EXPECT_EQ(j->exit_code(), x.exit_code) << j->DebugString();
    EXPECT_EQ(Outcome(j->job_id()), x.outcome);
    EXPECT_NE(j->message().find(x.message), std::string::npos) << j->DebugString();
  }
  EXPECT_EQ(Job(e, run, "failing")->error_class(), v1::ERROR_CLASS_EXIT_CODE);
  EXPECT_EQ(e.endpoint().error_class(), v1::ERROR_CLASS_EXIT_CODE);
  EXPECT_NE(e.endpoint().state_detail().find("failing"), std::string::npos)
      << e.endpoint().state_detail();

  std::vector<Call> calls = machine_->Calls();
  std::vector<std::string> wusa, netsh;
  for (size_t i = before; i < calls.size(); ++i) {
    const Call& c = calls[i];
    if (c.tool == "wusa.exe" && !c.note.empty()) wusa.push_back(c.note);
    if (c.tool == "netsh.exe" && c.note.empty()) {
      netsh.push_back(absl::StrJoin(c.argv.begin() + 1, c.argv.end(), " "));
    }
  }
  EXPECT_EQ(wusa,
            (std::vector<std::string>{
                "wusa: KB2999226 installed", "wusa: KB2999226 is already installed",
                "wusa: KB2999226 is for Windows 6.3 amd64, not this 6.1 amd64: not applicable",
                "wusa: KB2999999 fails with 0x80070643 as the package says"}));
  EXPECT_EQ(netsh,
            (std::vector<std::string>{"winhttp set proxy proxy-server=proxy.corp.example:3128",
                                      "winhttp reset proxy"}));
}

}  // namespace
}  // namespace purser::testing
