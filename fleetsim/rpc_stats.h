// Per-RPC counters and latencies of a simulated fleet, and the rate of first
// check-ins per second (each one a new TLS handshake).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace purser::fleetsim {

struct RpcSummary {
  int64_t calls = 0;
  int64_t errors = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
};

class RpcStats {
 public:
  void Record(const std::string& rpc, absl::Duration latency, bool ok);
  // Summaries by RPC name since the last Reset.
  std::map<std::string, RpcSummary> Summaries() const;
  int64_t TotalCalls() const;
  int64_t TotalErrors() const;
  void Reset();

 private:
  struct Series {
    std::vector<float> ms;
    int64_t errors = 0;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, Series> by_rpc_ ABSL_GUARDED_BY(mu_);
};

// Events per one-second bin since a start time: the peak and the series.
class RateMeter {
 public:
  void Start(absl::Time t);
  void Add(absl::Time t);
  int64_t PeakPerSecond() const;

 private:
  mutable absl::Mutex mu_;
  absl::Time start_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> bins_ ABSL_GUARDED_BY(mu_);
};

// Prints one line per RPC: calls, errors, calls/s over `seconds`, percentiles.
std::string FormatSummaries(const std::map<std::string, RpcSummary>& s, double seconds);

}  // namespace purser::fleetsim
