// Shared by the benchmarks: a throwaway PKI, a closed-loop load driver, and
// the process's CPU time.
#pragma once
#include <atomic>
#include <functional>
#include <string>

#include "absl/time/time.h"
#include "shared/x509.h"

namespace purser::bench {

struct Pki {
  std::string ca_pem, ca_key;
  std::string server_pem, server_key;
  std::string client_pem, client_key;
};
// A CA, a server certificate for "purser-server" and a client certificate.
Pki MakePki();

struct LoadResult {
  int64_t calls = 0;
  int64_t errors = 0;
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0;
  double rate() const { return calls / seconds; }
};

// Runs `call(worker)` in a closed loop on `workers` threads for `duration`.
// `call` returns false on error. Latency percentiles over all calls.
LoadResult RunLoad(int workers, absl::Duration duration, const std::function<bool(int)>& call);

// Parses the flags and turns Abseil's lock-order checks off (they cost ~5% of
// a handshake-heavy load): what every benchmark does first.
void InitBenchmark(int argc, char** argv);

// User + system CPU seconds of this process so far.
double CpuSeconds();

}  // namespace purser::bench
