#include "fleetsim/rpc_stats.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace purser::fleetsim {
namespace {

double Percentile(const std::vector<float>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(q * (sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

void RpcStats::Record(const std::string& rpc, absl::Duration latency, bool ok) {
  absl::MutexLock lock(&mu_);
  Series& s = by_rpc_[rpc];
  s.ms.push_back(static_cast<float>(absl::ToDoubleMilliseconds(latency)));
  if (!ok) ++s.errors;
}

std::map<std::string, RpcSummary> RpcStats::Summaries() const {
  std::map<std::string, Series> copy;
  {
    absl::MutexLock lock(&mu_);
    copy = by_rpc_;
  }
  std::map<std::string, RpcSummary> out;
  for (auto& [rpc, s] : copy) {
    std::sort(s.ms.begin(), s.ms.end());
    RpcSummary& r = out[rpc];
    r.calls = static_cast<int64_t>(s.ms.size());
    r.errors = s.errors;
    r.p50_ms = Percentile(s.ms, 0.50);
    r.p90_ms = Percentile(s.ms, 0.90);
    r.p99_ms = Percentile(s.ms, 0.99);
    r.max_ms = s.ms.empty() ? 0 : s.ms.back();
  }
  return out;
}

int64_t RpcStats::TotalCalls() const {
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& [rpc, s] : by_rpc_) n += static_cast<int64_t>(s.ms.size());
  return n;
}

int64_t RpcStats::TotalErrors() const {
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& [rpc, s] : by_rpc_) n += s.errors;
  return n;
}

void RpcStats::Reset() {
  absl::MutexLock lock(&mu_);
  by_rpc_.clear();
}

void RateMeter::Start(absl::Time t) {
  absl::MutexLock lock(&mu_);
  start_ = t;
  bins_.clear();
}

void RateMeter::Add(absl::Time t) {
  absl::MutexLock lock(&mu_);
  int64_t bin = std::max<int64_t>(0, absl::ToInt64Seconds(t - start_));
  if (static_cast<int64_t>(bins_.size()) <= bin) bins_.resize(bin + 1);
  ++bins_[bin];
}

int64_t RateMeter::PeakPerSecond() const {
  absl::MutexLock lock(&mu_);
  return bins_.empty() ? 0 : *std::max_element(bins_.begin(), bins_.end());
}

std::string FormatSummaries(const std::map<std::string, RpcSummary>& s, double seconds) {
  std::string out = absl::StrFormat("  %-22s %9s %7s %9s %9s %9s %9s\n", "rpc", "calls", "errors",
                                    "calls/s", "p50 ms", "p99 ms", "max ms");
  for (const auto& [rpc, r] : s) {
    out += absl::StrFormat("  %-22s %9d %7d %9.0f %9.1f %9.1f %9.1f\n", rpc, r.calls, r.errors,
                           seconds > 0 ? r.calls / seconds : 0.0, r.p50_ms, r.p99_ms, r.max_ms);
  }
  return out;
}

}  // namespace purser::fleetsim
