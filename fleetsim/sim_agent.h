// One simulated endpoint of a fleet: its own key and certificate (enrolled for
// real), its own TLS connection from its own source address, its own simulated
// Windows machine and journal on disk. It follows the agent's protocol (check
// in, long-poll for work, run the step, journal, report, reboot when told)
// with gRPC's asynchronous callback API, so thousands share a few threads.
#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/connection.h"
#include "client/journal.h"
#include "client/sim/sim_windows.h"
#include "fleetsim/rpc_stats.h"
#include "fleetsim/timers.h"
#include "purser/v1/agent.grpc.pb.h"

namespace purser::fleetsim {

// What all agents of a fleet share.
struct FleetContext {
  std::string server;  // host:port
  std::string ca_pem;
  int wait_seconds = 25;
  absl::Duration reboot_time = absl::Milliseconds(500);     // a simulated reboot's downtime
  absl::Duration crash_restart = absl::Milliseconds(1000);  // agent restart after a crash
  RpcStats* stats = nullptr;
  RateMeter* first_checkins = nullptr;  // one per boot: each is a new TLS handshake
  Timers* timers = nullptr;             // delays; tasks run on its pool
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> in_flight{0};   // RPCs started and not yet completed
  std::atomic<int64_t> checked_in{0};  // agents checked in since their last boot
  std::atomic<int64_t> steps_run{0};
  std::atomic<int64_t> reboots{0};
  std::atomic<int64_t> crashes{0};
  std::atomic<int64_t> hung{0};
  std::atomic<int64_t> lost{0};  // machines that never came back from a reboot
};

// Faults this agent will act out; the machine-level ones (failing KB, lost
// reboot) live in its simulated machine.
struct AgentFaults {
  bool crash_once = false;  // the agent process dies mid-step once, and restarts
  bool hang = false;        // the agent hangs in its first step and never reports
};

class SimAgent {
 public:
  SimAgent(FleetContext* fleet, int index, std::string dir, std::string source_ip,
           AgentFaults faults);
  // Creates (or loads) the simulated machine and enrolls with `token`, unless
  // an identity is already on disk. Blocking: call from a pool thread.
  absl::Status Prepare(const std::string& profile, const v1::SimFaults& machine_faults,
                       const std::string& token);
  // Starts the agent: a fresh connection, check-in, then the work loop.
  void Boot();
  // Cancels the agent's open long poll, if any.
  void Cancel();
  const std::string& endpoint_id() const { return identity_.endpoint_id; }

 private:
  struct Call;
  void CheckIn();
  void Poll();
  void RunJob(const v1::Job& job);  // on a pool thread
  void Report(const v1::ReportResultRequest& report);
  void Reboot();  // on a pool thread
  void Later(absl::Duration d, std::function<void()> fn);
  absl::Duration NextBackoff();
  void Finished(Call* call, const char* rpc, const grpc::Status& st);

  FleetContext* fleet_;
  const int index_;
  const std::string dir_;
  const std::string source_ip_;
  AgentFaults faults_;
  client::Identity identity_;
  std::unique_ptr<client::sim::SimWindows> machine_;
  client::JournalFile journal_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
  bool counted_checkin_ = false;
  int failures_ = 0;  // consecutive, for backoff
  absl::BitGen rng_;
  absl::Mutex mu_;
  grpc::ClientContext* poll_ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace purser::fleetsim
