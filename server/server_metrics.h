// The server's figures for Prometheus (docs/operations.md lists each). Two
// kinds: those the code that does the work adds to (RPCs, group commits,
// lease expiries), and those read when scraped: from the store (endpoints per
// state and OS, campaigns, client certificates), cached so that scrapes cannot
// load it, and from memory (long polls, queued calls, the process).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/core.h"
#include "server/metrics.h"
#include "server/rpc_metrics.h"

namespace purser::server {

class ServerMetrics {
 public:
  struct Options {
    int64_t store_cache_ms = 5'000;         // endpoints and campaigns
    int64_t certificate_cache_ms = 60'000;  // certificates change seldom
    int recent_finished_campaigns = 5;      // exposed beside the active ones
    int64_t expiring_soon_ms = 7LL * 24 * 3600 * 1000;
  };
  ServerMetrics() : ServerMetrics(Options()) {}
  explicit ServerMetrics(Options options);
  ~ServerMetrics();

  metrics::Registry* registry() { return &registry_; }
  RpcMetrics* rpc() { return rpc_.get(); }
  // For db::StoreOptions::on_commit.
  void ObserveCommit(double seconds, int writes);
  void LeasesExpired(int64_t n) { leases_expired_->Inc(static_cast<uint64_t>(n)); }
  // Adds the figures read at scrape time from `core`; it must outlive every
  // scrape (stop the HTTP endpoint first).
  void Watch(ServerCore* core);
  // The text exposition of every figure.
  std::string Render() const { return registry_.Render(); }

 private:
  // Families computed by `compute`, kept `ttl_ms`. The computation runs with
  // no lock held; scrapes are serial (one HTTP thread), so two seldom overlap.
  class Cache {
   public:
    using Compute = std::function<std::vector<metrics::MetricFamily>()>;
    std::vector<metrics::MetricFamily> Get(int64_t now_ms, int64_t ttl_ms, const Compute& compute);

   private:
    absl::Mutex mu_;
    bool valid_ ABSL_GUARDED_BY(mu_) = false;
    int64_t at_ms_ ABSL_GUARDED_BY(mu_) = 0;
    std::vector<metrics::MetricFamily> families_ ABSL_GUARDED_BY(mu_);
  };

  std::vector<metrics::MetricFamily> EndpointFigures(ServerCore* core);
  std::vector<metrics::MetricFamily> CampaignFigures(ServerCore* core);
  std::vector<metrics::MetricFamily> CertificateFigures(ServerCore* core);
  std::vector<metrics::MetricFamily> LiveFigures(ServerCore* core);

  const Options options_;
  metrics::Registry registry_;
  std::unique_ptr<RpcMetrics> rpc_;
  metrics::Counter* leases_expired_;
  metrics::Histogram* commit_seconds_;
  metrics::Histogram* commit_writes_;
  metrics::Counter* store_read_errors_;
  Cache endpoints_cache_;
  Cache campaigns_cache_;
  Cache certificates_cache_;
};

}  // namespace purser::server
