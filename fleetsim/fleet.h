// A simulated fleet: N agents with a profile mix, spread over source
// addresses, sharing one worker pool and timer thread.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fleetsim/sim_agent.h"

namespace purser::fleetsim {

struct FleetOptions {
  int agents = 100;
  std::string state_root;                        // one directory per agent below it
  std::vector<std::pair<std::string, int>> mix;  // profile, weight
  int source_ips = 8;                            // 127.0.0.1 .. 127.0.0.N
  int threads = 8;                               // pool running steps and continuations
  int enroll_concurrency = 32;
  // Percent of agents with each fault.
  double crash_pct = 0, hang_pct = 0, lost_reboot_pct = 0, failing_kb_pct = 0;
};

// Parses "win7-sp1-x64-ent:50,win81-x64-ent:20"; errors name the bad entry.
absl::StatusOr<std::vector<std::pair<std::string, int>>> ParseMix(const std::string& text);

class Fleet {
 public:
  Fleet(FleetOptions options, FleetContext* context);
  ~Fleet();
  // Creates machines and enrolls those without an identity; `token` may be
  // empty when all are enrolled already. Returns the first error, if any,
  // after trying every agent.
  absl::Status Prepare(const std::string& token, int* failures);
  // Starts every agent, spread uniformly over `splay` (zero: all at once).
  void Boot(absl::Duration splay);
  // Cancels long polls and waits (up to `timeout`) for RPCs to complete.
  void Stop(absl::Duration timeout);
  int size() const { return static_cast<int>(agents_.size()); }
  // Profile of agent i, by the mix.
  std::string ProfileOf(int i) const;

 private:
  FleetOptions options_;
  FleetContext* context_;
  std::vector<std::unique_ptr<SimAgent>> agents_;
};

}  // namespace purser::fleetsim
