// purser-server: the control server. See README.md.
#include <algorithm>
#include <csignal>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "server/server.h"
#include "shared/logging.h"

ABSL_FLAG(std::string, data_dir, "", "data directory (initialised on first start)");
ABSL_FLAG(std::string, listen, "127.0.0.1:7443", "address to listen on; port 0 picks one");
ABSL_FLAG(std::string, plans_dir, "", "directory of plan files (*.textproto, *.json)");
ABSL_FLAG(std::string, port_file, "", "write the bound port here once serving");
ABSL_FLAG(std::string, names, "",
          "extra DNS names/IPs for the server certificate (comma-separated)");
ABSL_FLAG(int64_t, lease_grace_ms, 30000, "time past a step's timeout before its lease expires");
ABSL_FLAG(int64_t, offline_after_ms, 180000, "an endpoint not seen this long is offline");
ABSL_FLAG(int, max_wait_seconds, 30, "longest long poll");
ABSL_FLAG(int, workers, 16, "worker threads for store calls (they wait on SQLite commits)");
ABSL_FLAG(int64_t, max_queued_calls, 50000,
          "new calls waiting for a worker beyond this are refused (RESOURCE_EXHAUSTED)");
ABSL_FLAG(bool, mutex_deadlock_checks, true,
          "Abseil's lock-order checks (about 5% of a handshake-heavy load; off for benchmarks)");
ABSL_FLAG(int64_t, agent_cert_seconds, 30LL * 24 * 3600, "lifetime of agent certificates");
ABSL_FLAG(int64_t, campaign_tick_ms, 500, "how often campaigns are moved along");
ABSL_FLAG(int64_t, reverify_every_ms, 24LL * 3600 * 1000,
          "re-verify onboarded endpoints this often (the guide's daily task); 0: never");
ABSL_FLAG(int64_t, max_connection_age_seconds, 3600,
          "connections are closed (gracefully) after this long, so every peer presents its "
          "certificate again; 0: never");
ABSL_FLAG(int64_t, max_connection_idle_seconds, 300,
          "connections without a call for this long are closed; 0: never");
ABSL_FLAG(bool, remediate_drift, false, "onboard drifted endpoints again, automatically");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("purser-server --data_dir=DIR --plans_dir=DIR [--listen=ADDR]");
  absl::ParseCommandLine(argc, argv);
  purser::SetLogPrefix("server: ");
  if (!absl::GetFlag(FLAGS_mutex_deadlock_checks)) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  if (absl::GetFlag(FLAGS_data_dir).empty()) {
    std::cerr << "purser-server: --data_dir is required\n";
    return 2;
  }
  // Signals are taken synchronously by this thread only.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  purser::server::ServerOptions o;
  o.data_dir = absl::GetFlag(FLAGS_data_dir);
  o.listen = absl::GetFlag(FLAGS_listen);
  o.plans_dir = absl::GetFlag(FLAGS_plans_dir);
  o.port_file = absl::GetFlag(FLAGS_port_file);
  if (!absl::GetFlag(FLAGS_names).empty()) {
    o.names = absl::StrSplit(absl::GetFlag(FLAGS_names), ',', absl::SkipEmpty());
  }
  o.lease_grace_ms = absl::GetFlag(FLAGS_lease_grace_ms);
  o.offline_after_ms = absl::GetFlag(FLAGS_offline_after_ms);
  o.max_wait_seconds = absl::GetFlag(FLAGS_max_wait_seconds);
  o.workers = absl::GetFlag(FLAGS_workers);
  o.max_queued_calls =
      static_cast<size_t>(std::max<int64_t>(1, absl::GetFlag(FLAGS_max_queued_calls)));
  o.agent_cert_seconds = absl::GetFlag(FLAGS_agent_cert_seconds);
  o.campaign_tick_ms = absl::GetFlag(FLAGS_campaign_tick_ms);
  o.reverify_every_ms = absl::GetFlag(FLAGS_reverify_every_ms);
  o.remediate_drift = absl::GetFlag(FLAGS_remediate_drift);
  o.max_connection_age_ms = absl::GetFlag(FLAGS_max_connection_age_seconds) * 1000;
  o.max_connection_idle_ms = absl::GetFlag(FLAGS_max_connection_idle_seconds) * 1000;
  auto server = purser::server::Server::Start(o);
  if (!server.ok()) {
    std::cerr << "purser-server: " << server.status().message() << "\n";
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  purser::LogInfo("signal %d: shutting down", sig);
  (*server)->Shutdown();
  return 0;
}
