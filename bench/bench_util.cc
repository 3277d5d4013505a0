#include "bench/bench_util.h"

#include <sys/resource.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace purser::bench {

Pki MakePki() {
  Pki p;
  p.ca_key = *GenerateKeyPem();
  p.ca_pem = MakeSelfSignedCa(p.ca_key, {"Bench CA", "", 3600, true, {}, {}})->pem;
  p.server_key = *GenerateKeyPem();
  p.server_pem =
      IssueCert(p.ca_key, p.ca_pem, *PublicKeyDerOfKey(p.server_key),
                {"purser-server", "server", 3600, false, {"purser-server"}, {"127.0.0.1"}})
          ->pem;
  p.client_key = *GenerateKeyPem();
  p.client_pem = IssueCert(p.ca_key, p.ca_pem, *PublicKeyDerOfKey(p.client_key),
                           {"client", "agent", 3600, false, {}, {}})
                     ->pem;
  return p;
}

LoadResult RunLoad(int workers, absl::Duration duration, const std::function<bool(int)>& call) {
  std::vector<std::vector<float>> latencies(workers);
  std::vector<int64_t> errors(workers, 0);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  absl::Time start = absl::Now();
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      while (!stop) {
        absl::Time t0 = absl::Now();
        bool ok = call(w);
        latencies[w].push_back(static_cast<float>(absl::ToDoubleMilliseconds(absl::Now() - t0)));
        if (!ok) ++errors[w];
      }
    });
  }
  absl::SleepFor(duration);
  stop = true;
  for (auto& t : threads) t.join();
  LoadResult r;
  r.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<float> all;
  for (int w = 0; w < workers; ++w) {
    all.insert(all.end(), latencies[w].begin(), latencies[w].end());
    r.errors += errors[w];
  }
  r.calls = static_cast<int64_t>(all.size());
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    r.p50_ms = all[all.size() / 2];
    r.p99_ms = all[all.size() * 99 / 100];
  }
  return r;
}

void InitBenchmark(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace purser::bench
