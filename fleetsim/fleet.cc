#include "fleetsim/fleet.h"

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "client/sim/profiles.h"

namespace purser::fleetsim {
namespace {

// Agent i has a fault when its slot, spread evenly, falls under the percentage.
bool Has(int i, double pct, int salt) {
  return pct > 0 && ((i * 7919 + salt * 104729) % 10000) < pct * 100;
}

}  // namespace

absl::StatusOr<std::vector<std::pair<std::string, int>>> ParseMix(const std::string& text) {
  std::vector<std::pair<std::string, int>> mix;
  std::vector<std::string> known = client::sim::ProfileNames();
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(part, ':');
    int weight = 0;
    if (kv.size() != 2 || !absl::SimpleAtoi(kv[1], &weight) || weight <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mix: \"", part, "\" is not profile:weight (weight > 0)"));
    }
    if (std::find(known.begin(), known.end(), kv[0]) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat("--mix: unknown profile ", kv[0],
                                                     " (known: ", absl::StrJoin(known, ", "), ")"));
    }
    mix.emplace_back(kv[0], weight);
  }
  if (mix.empty()) return absl::InvalidArgumentError("--mix: no profile given");
  return mix;
}

Fleet::Fleet(FleetOptions options, FleetContext* context)
    : options_(std::move(options)), context_(context) {
  for (int i = 0; i < options_.agents; ++i) {
    AgentFaults f;
    f.crash_once = Has(i, options_.crash_pct, 1);
    f.hang = Has(i, options_.hang_pct, 2);
    std::string ip = absl::StrCat("127.0.0.", 1 + i % std::max(1, options_.source_ips));
    agents_.push_back(std::make_unique<SimAgent>(
        context_, i, absl::StrFormat("%s/agent-%05d", options_.state_root, i), ip, f));
  }
}

Fleet::~Fleet() = default;

std::string Fleet::ProfileOf(int i) const {
  int total = 0;
  for (const auto& [p, w] : options_.mix) total += w;
  int slot = i % total;
  for (const auto& [p, w] : options_.mix) {
    if (slot < w) return p;
    slot -= w;
  }
  return options_.mix.back().first;
}

absl::Status Fleet::Prepare(const std::string& token, int* failures) {
  absl::Mutex mu;
  absl::Status first;
  *failures = 0;
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < options_.enroll_concurrency; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < size(); i = next++) {
        v1::SimFaults machine;
        if (Has(i, options_.lost_reboot_pct, 3)) machine.set_lose_reboot(true);
        if (Has(i, options_.failing_kb_pct, 4)) machine.add_failing_kbs("KB4474419");
        absl::Status st = agents_[i]->Prepare(ProfileOf(i), machine, token);
        if (!st.ok()) {
          absl::MutexLock lock(&mu);
          if (first.ok())
            first = absl::Status(st.code(), absl::StrCat("agent ", i, ": ", st.message()));
          ++*failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return first;
}

void Fleet::Boot(absl::Duration splay) {
  for (int i = 0; i < size(); ++i) {
    SimAgent* a = agents_[i].get();
    if (splay <= absl::ZeroDuration()) {
      a->Boot();
    } else {
      context_->timers->After(splay * (static_cast<double>(i) / size()), [a] { a->Boot(); });
    }
  }
}

void Fleet::Stop(absl::Duration timeout) {
  context_->stopping = true;
  absl::Time until = absl::Now() + timeout;
  while (context_->in_flight > 0 && absl::Now() < until) {
    for (auto& a : agents_) a->Cancel();
    absl::SleepFor(absl::Milliseconds(100));
  }
}

}  // namespace purser::fleetsim
