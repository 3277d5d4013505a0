// The agent's job loop: check in with inventory, wait for work (long poll),
// run the step, journal the result, report until acknowledged, reboot when a
// step asks for it. Reconnects back off with jitter.
#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "client/artifact_cache.h"
#include "client/connection.h"
#include "client/executor.h"
#include "client/journal.h"
#include "purser/v1/agent.grpc.pb.h"
#include "shared/backoff.h"

namespace purser::client {

struct AgentOptions {
  std::string server;  // host:port
  std::string state_dir;
  int wait_seconds = 25;  // long-poll length
  int64_t backoff_initial_ms = 500;
  int64_t backoff_max_ms = 30'000;
  // Renew the certificate when less than this fraction of its life is left.
  double renew_fraction = 1.0 / 3;
  // Exit (0) once the endpoint reaches a final state with no work, instead of
  // waiting forever: for scripted one-shot runs.
  bool exit_when_done = false;
  // This endpoint's install allows run_command steps (arbitrary commands as
  // SYSTEM). Off unless the local administrator turned it on.
  bool allow_run_command = false;
};

class Agent {
 public:
  Agent(AgentOptions options, Identity identity, Executor* executor);
  // Runs until `stop` becomes true (or, with exit_when_done, until done).
  absl::Status Run(const std::atomic<bool>& stop);

 private:
  absl::Status CheckIn(v1::EndpointState* state);
  // Reports the journaled result until the server acknowledges it.
  absl::Status ReportJournaled(const std::atomic<bool>& stop);
  absl::Status RunJob(const v1::Job& job, const std::atomic<bool>& stop);
  absl::Status MaybeRenew();
  // This installation: its own nonce and the machine's name. A cloned machine
  // carries the nonce along but not, once renamed, the name.
  std::string Fingerprint() { return identity_.nonce + "/" + executor_->Inventory().hostname(); }
  void Connect();
  void Sleep(int64_t ms, const std::atomic<bool>& stop);

  AgentOptions options_;
  Identity identity_;
  Executor* executor_;
  JournalFile journal_;
  Backoff backoff_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
  ArtifactCache cache_;
};

}  // namespace purser::client
