// Real processes for end-to-end tests: a purser-server on 127.0.0.1 port 0
// with its own data directory, purser-agent processes, and in-process "raw"
// agents that speak the agent API directly (to act badly on purpose).
#pragma once
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "purser/v1/agent.grpc.pb.h"
#include "purser/v1/operator.grpc.pb.h"
#include "shared/raw_agent.h"

namespace purser::testing {

// A fresh temporary directory, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process with its stderr captured to a file.
class Process {
 public:
  static absl::StatusOr<std::unique_ptr<Process>> Spawn(const std::vector<std::string>& argv,
                                                        const std::string& log_path);
  ~Process();  // SIGKILL if still running
  void Signal(int sig);
  // Waits for exit; returns the exit code, or 128+signal. -1 on timeout.
  int Wait(absl::Duration timeout = absl::Seconds(30));
  bool Running();
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

class TestServer {
 public:
  // `root` holds server/, plans/ (deploy plans + test plans) and logs.
  explicit TestServer(std::string root, std::vector<std::string> extra_flags = {});
  absl::Status Start();
  void Kill(int sig);
  int Wait() { return process_->Wait(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The metrics endpoint (on a port of its own, picked at each start; 0 when
  // a test turned it off with --metrics_listen=).
  int metrics_port() const { return metrics_port_; }
  // GET /metrics over HTTP: the body of a 200 answer, else an error naming what came.
  absl::StatusOr<std::string> ScrapeMetrics() const;
  std::string data_dir() const { return root_ + "/server"; }
  std::string ca_path() const { return data_dir() + "/ca.pem"; }
  std::string ca_pem() const;
  std::string Log() const { return process_ ? process_->Log() : ""; }
  std::unique_ptr<v1::OperatorService::Stub> Admin() const;
  // Makes a token with `uses` and `ttl_seconds` (readmitting the revoked
  // endpoints named); returns it, or the file it was written to.
  absl::StatusOr<std::string> Token(int uses, int64_t ttl_seconds = 3600,
                                    const std::vector<std::string>& readmit = {});
  absl::StatusOr<std::string> TokenFile(int uses, const std::vector<std::string>& readmit = {});
  absl::StatusOr<v1::GetEndpointResponse> Get(const std::string& id) const;
  absl::StatusOr<std::vector<v1::Endpoint>> List() const;
  absl::StatusOr<v1::StartRunResponse> StartRun(const std::string& plan,
                                                const std::vector<std::string>& ids,
                                                const std::map<std::string, std::string>& params);
  // Stores a workspace key secret and uploads stand-ins for the default plan's
  // packages; returns the params the default plan needs.
  absl::StatusOr<std::map<std::string, std::string>> OnboardParams(const std::string& key);
  absl::StatusOr<v1::ArtifactInfo> Upload(const std::string& name, const std::string& data);

 private:
  std::string root_;
  std::vector<std::string> extra_flags_;
  int port_ = 0;
  int metrics_port_ = 0;
  int starts_ = 0;
  std::unique_ptr<Process> process_;
};

// A purser-agent process on a simulated machine.
absl::StatusOr<std::unique_ptr<Process>> StartAgent(const TestServer& server,
                                                    const std::string& state_dir,
                                                    const std::string& token_file,
                                                    const std::string& profile,
                                                    std::vector<std::string> extra_flags = {});
// The same with another agent build (an earlier release's).
absl::StatusOr<std::unique_ptr<Process>> StartAgentBinary(
    const std::string& agent_bin, const TestServer& server, const std::string& state_dir,
    const std::string& token_file, const std::string& profile,
    std::vector<std::string> extra_flags = {});

// A raw agent: a test speaks the agent API itself, to act badly on purpose.
// Real agents are purser-agent processes.
using AgentIdentity = RawIdentity;
absl::StatusOr<AgentIdentity> EnrollIdentity(const TestServer& server, const std::string& token,
                                             const v1::Inventory& inventory,
                                             const std::string& state_dir);
std::shared_ptr<grpc::Channel> AgentChannel(const TestServer& server, const AgentIdentity& id);

// An in-process agent identity and stub.
struct RawAgent {
  AgentIdentity identity;
  std::unique_ptr<v1::AgentService::Stub> stub;
};
absl::StatusOr<RawAgent> EnrollRaw(const TestServer& server, const std::string& token,
                                   const v1::Inventory& inventory, const std::string& state_dir);
v1::Inventory Win7Inventory(const std::string& hostname);

// Runs purserctl with the admin identity; returns its exit code, output in *out.
int RunCtl(const TestServer& server, const std::string& args, std::string* out);
// The same with another purserctl build (an earlier release's).
int RunCtlBinary(const std::string& ctl_bin, const TestServer& server, const std::string& args,
                 std::string* out);

// Polls `done` every 50 ms until true or `timeout`.
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(30));
std::string Slurp(const std::string& path);

}  // namespace purser::testing
