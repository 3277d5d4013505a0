#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/plan/plan_loader.h"
#include "shared/status_macros.h"

namespace purser::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "purser-test-XXXXXX").string();
  path_ = ::mkdtemp(tmpl.data());
}

TempDir::~TempDir() {
  std::error_code ec;
  if (std::getenv("PURSER_KEEP_TEST_DIRS") == nullptr) std::filesystem::remove_all(path_, ec);
}

std::string Slurp(const std::string& path) {
  auto s = ReadFile(path);
  return s.ok() ? *s : "";
}

absl::StatusOr<std::unique_ptr<Process>> Process::Spawn(const std::vector<std::string>& argv,
                                                        const std::string& log_path) {
  auto p = std::make_unique<Process>();
  p->log_path_ = log_path;
  pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 2);
      ::dup2(fd, 1);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  p->pid_ = pid;
  return p;
}

Process::~Process() {
  if (Running()) {
    ::kill(pid_, SIGKILL);
    Wait();
  }
}

void Process::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool Process::Running() {
  if (pid_ <= 0 || status_ != -1) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

int Process::Wait(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (Running()) {
    if (absl::Now() > deadline) return -1;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return status_;
}

std::string Process::Log() const { return Slurp(log_path_); }

TestServer::TestServer(std::string root, std::vector<std::string> extra_flags)
    : root_(std::move(root)), extra_flags_(std::move(extra_flags)) {
  std::filesystem::create_directories(root_ + "/plans");
  for (const char* dir : {PURSER_PLANS_DIR, PURSER_TEST_PLANS_DIR}) {
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      std::filesystem::copy_file(f.path(), root_ + "/plans/" + f.path().filename().string(),
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }
}

absl::Status TestServer::Start() {
  std::string port_file = root_ + "/port";
  std::string metrics_port_file = root_ + "/metrics_port";
  ::unlink(port_file.c_str());
  ::unlink(metrics_port_file.c_str());
  // A restart keeps its port, as a real server would: agents reconnect to it.
  // The metrics port is picked anew: tests run side by side (a test's own
  // --metrics_listen comes later and wins).
  std::vector<std::string> argv = {PURSER_SERVER_BIN,
                                   "--data_dir=" + data_dir(),
                                   "--plans_dir=" + root_ + "/plans",
                                   "--listen=127.0.0.1:" + std::to_string(port_),
                                   "--port_file=" + port_file,
                                   "--metrics_listen=127.0.0.1:0",
                                   "--metrics_port_file=" + metrics_port_file};
  argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
  auto p = Process::Spawn(argv, absl::StrCat(root_, "/server.", starts_++, ".log"));
  if (!p.ok()) return p.status();
  process_ = std::move(*p);
  bool up = WaitUntil([&] { return !Slurp(port_file).empty() || !process_->Running(); },
                      absl::Seconds(30));
  if (!up || Slurp(port_file).empty()) {
    return absl::UnavailableError(absl::StrCat("server did not start: ", process_->Log()));
  }
  port_ = std::atoi(Slurp(port_file).c_str());
  // Written before the port file, when there is an endpoint.
  metrics_port_ = std::atoi(Slurp(metrics_port_file).c_str());
  return absl::OkStatus();
}

absl::StatusOr<std::string> TestServer::ScrapeMetrics() const {
  if (metrics_port_ == 0) return absl::FailedPreconditionError("the server has no metrics port");
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(metrics_port_));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to metrics port ", metrics_port_));
  }
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  char buf[16384];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) answer.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t body = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.1 200 ", 0) != 0 || body == std::string::npos) {
    return absl::InternalError(absl::StrCat("metrics answer: ", answer.substr(0, 200)));
  }
  return answer.substr(body + 4);
}

void TestServer::Kill(int sig) { process_->Signal(sig); }

std::string TestServer::ca_pem() const { return Slurp(ca_path()); }

std::unique_ptr<v1::OperatorService::Stub> TestServer::Admin() const {
  TlsFiles tls{ca_pem(), Slurp(data_dir() + "/admin.pem"), Slurp(data_dir() + "/admin.key")};
  return v1::OperatorService::NewStub(MakeTlsChannel(address(), tls));
}

namespace {
template <typename Req, typename Resp, typename Method>
absl::StatusOr<Resp> Call(v1::OperatorService::Stub* stub, Method m, const Req& req) {
  Resp resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Status st = (stub->*m)(&ctx, req, &resp);
  if (!st.ok())
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
  return resp;
}
using Stub = v1::OperatorService::Stub;
}  // namespace

absl::StatusOr<std::string> TestServer::Token(int uses, int64_t ttl_seconds,
                                              const std::vector<std::string>& readmit) {
  v1::CreateEnrollmentTokenRequest req;
  req.set_max_uses(uses);
  req.set_ttl_seconds(ttl_seconds);
  for (const auto& id : readmit) req.add_readmit_endpoint_ids(id);
  auto resp = Call<v1::CreateEnrollmentTokenRequest, v1::CreateEnrollmentTokenResponse>(
      Admin().get(), &Stub::CreateEnrollmentToken, req);
  if (!resp.ok()) return resp.status();
  return resp->token();
}

absl::StatusOr<std::string> TestServer::TokenFile(int uses,
                                                  const std::vector<std::string>& readmit) {
  auto token = Token(uses, 3600, readmit);
  if (!token.ok()) return token.status();
  std::string path =
      absl::StrCat(root_, "/token.", starts_, ".", uses, ".", absl::ToUnixNanos(absl::Now()));
  absl::Status st = WriteFileAtomic(path, *token, 0600);
  if (!st.ok()) return st;
  return path;
}

absl::StatusOr<v1::GetEndpointResponse> TestServer::Get(const std::string& id) const {
  v1::GetEndpointRequest req;
  req.set_id(id);
  return Call<v1::GetEndpointRequest, v1::GetEndpointResponse>(Admin().get(), &Stub::GetEndpoint,
                                                               req);
}

absl::StatusOr<std::vector<v1::Endpoint>> TestServer::List() const {
  v1::ListEndpointsRequest req;
  req.set_page_size(1000);
  auto resp = Call<v1::ListEndpointsRequest, v1::ListEndpointsResponse>(Admin().get(),
                                                                        &Stub::ListEndpoints, req);
  if (!resp.ok()) return resp.status();
  return std::vector<v1::Endpoint>(resp->endpoints().begin(), resp->endpoints().end());
}

absl::StatusOr<v1::StartRunResponse> TestServer::StartRun(
    const std::string& plan, const std::vector<std::string>& ids,
    const std::map<std::string, std::string>& params) {
  v1::StartRunRequest req;
  req.set_plan_name(plan);
  for (const auto& id : ids) req.add_endpoint_ids(id);
  req.set_all_endpoints(ids.empty());
  for (const auto& [k, v] : params) (*req.mutable_params())[k] = v;
  return Call<v1::StartRunRequest, v1::StartRunResponse>(Admin().get(), &Stub::StartRun, req);
}

absl::StatusOr<std::map<std::string, std::string>> TestServer::OnboardParams(
    const std::string& key) {
  v1::PutSecretRequest req;
  req.set_name("test-workspace-key");
  req.set_value(key);
  auto resp =
      Call<v1::PutSecretRequest, v1::PutSecretResponse>(Admin().get(), &Stub::PutSecret, req);
  if (!resp.ok()) return resp.status();
  auto plan = LoadPlanFile(std::string(PURSER_PLANS_DIR) + "/mde-downlevel-onboard.textproto");
  if (!plan.ok()) return plan.status();
  for (const auto& a : plan->artifacts()) {
    auto up = Upload(a.name(), "stand-in for " + a.name());
    if (!up.ok()) return up.status();
  }
  return std::map<std::string, std::string>{{"workspace_id", "test-workspace"},
                                            {"workspace_key", "test-workspace-key"}};
}

absl::StatusOr<v1::ArtifactInfo> TestServer::Upload(const std::string& name,
                                                    const std::string& data) {
  auto stub = Admin();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::ArtifactInfo info;
  auto writer = stub->UploadArtifact(&ctx, &info);
  v1::UploadArtifactRequest header;
  header.mutable_header()->set_name(name);
  header.mutable_header()->set_size(static_cast<int64_t>(data.size()));
  writer->Write(header);
  for (size_t off = 0; off < data.size(); off += 256 * 1024) {
    v1::UploadArtifactRequest chunk;
    chunk.set_chunk(data.substr(off, 256 * 1024));
    if (!writer->Write(chunk)) break;
  }
  writer->WritesDone();
  grpc::Status st = writer->Finish();
  if (!st.ok())
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
  return info;
}

absl::StatusOr<std::unique_ptr<Process>> StartAgent(const TestServer& server,
                                                    const std::string& state_dir,
                                                    const std::string& token_file,
                                                    const std::string& profile,
                                                    std::vector<std::string> extra_flags) {
  return StartAgentBinary(PURSER_AGENT_BIN, server, state_dir, token_file, profile,
                          std::move(extra_flags));
}

absl::StatusOr<std::unique_ptr<Process>> StartAgentBinary(const std::string& agent_bin,
                                                          const TestServer& server,
                                                          const std::string& state_dir,
                                                          const std::string& token_file,
                                                          const std::string& profile,
                                                          std::vector<std::string> extra_flags) {
  std::vector<std::string> argv = {agent_bin,
                                   "--server=" + server.address(),
                                   "--state_dir=" + state_dir,
                                   "--ca=" + server.ca_path(),
                                   "--token_file=" + token_file,
                                   "--executor=sim",
                                   "--sim_profile=" + profile,
                                   "--sim_hostname=" + profile,
                                   "--wait_seconds=5"};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  std::filesystem::create_directories(state_dir);
  return Process::Spawn(argv, state_dir + ".log");
}

v1::Inventory Win7Inventory(const std::string& hostname) {
  v1::Inventory inv;
  inv.set_hostname(hostname);
  inv.mutable_os()->set_product(v1::OS_PRODUCT_WINDOWS_7);
  inv.mutable_os()->set_service_pack(1);
  inv.mutable_os()->set_edition("Enterprise");
  inv.mutable_os()->set_arch(v1::ARCH_X64);
  inv.mutable_os()->set_version("6.1.7601");
  return inv;
}

absl::StatusOr<AgentIdentity> EnrollIdentity(const TestServer& server, const std::string& token,
                                             const v1::Inventory& inventory,
                                             const std::string& state_dir) {
  return EnrollRawIdentity(server.address(), server.ca_pem(), token, inventory, state_dir);
}

std::shared_ptr<grpc::Channel> AgentChannel(const TestServer& server, const AgentIdentity& id) {
  return RawAgentChannel(server.address(), id);
}

absl::StatusOr<RawAgent> EnrollRaw(const TestServer& server, const std::string& token,
                                   const v1::Inventory& inventory, const std::string& state_dir) {
  ASSIGN_OR_RETURN(AgentIdentity id, EnrollIdentity(server, token, inventory, state_dir));
  RawAgent a;
  a.identity = id;
  a.stub = v1::AgentService::NewStub(AgentChannel(server, id));
  return a;
}

int RunCtl(const TestServer& server, const std::string& args, std::string* out) {
  return RunCtlBinary(PURSER_CTL_BIN, server, args, out);
}

int RunCtlBinary(const std::string& ctl_bin, const TestServer& server, const std::string& args,
                 std::string* out) {
  std::string cmd = ctl_bin + " --server=" + server.address() + " --ca=" + server.ca_path() +
                    " --cert=" + server.data_dir() + "/admin.pem --key=" + server.data_dir() +
                    "/admin.key " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  out->clear();
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return done();
}

}  // namespace purser::testing
