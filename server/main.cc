// purser-server: the control server. See README.md.
#include <algorithm>
#include <csignal>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "server/commands.h"
#include "server/config_file.h"
#include "server/server.h"
#include "server/service.h"
#include "shared/logging.h"

ABSL_FLAG(std::string, data_dir, "", "data directory (initialised on first start)");
ABSL_FLAG(std::string, listen, "127.0.0.1:7443", "address to listen on; port 0 picks one");
ABSL_FLAG(std::string, plans_dir, "", "directory of plan files (*.textproto, *.json)");
ABSL_FLAG(std::string, port_file, "", "write the bound port here once serving");
// 7444: beside the API's 7443, and apart from the 9100-9999 range of the
// exporters (node, windows, OpenTelemetry's 9464) that share hosts with it.
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:7444",
          "address of the Prometheus endpoint (plain HTTP, GET /metrics); it has no "
          "authentication: name a non-loopback address only where any reader may see the "
          "fleet's figures (they hold no secrets); empty: no endpoint; port 0 picks one");
ABSL_FLAG(std::string, metrics_port_file, "", "write the metrics endpoint's bound port here");
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
ABSL_FLAG(std::string, secrets_key_file, "",
          "the secrets key (32 bytes, mode 0600), e.g. $CREDENTIALS_DIRECTORY/secrets-key or a "
          "file on another volume; default: DATA_DIR/secrets.key");
ABSL_FLAG(int64_t, server_cert_seconds, 2LL * 365 * 24 * 3600,
          "lifetime of the server certificate (issued at init and at each renewal)");
ABSL_FLAG(int64_t, server_cert_renew_before, 0,
          "renew the server certificate when less than this many seconds of it are left; "
          "0: a third of --server_cert_seconds");
ABSL_FLAG(std::string, config, "",
          "configuration file of `flag = value` lines; flags given on the command line win");
ABSL_FLAG(purser::LogLevel, log_level, purser::LogLevel::kInfo,
          "least severe level logged: debug, info, warning or error");

namespace {

constexpr char kUsage[] = R"(the Purser control server.

SYNOPSIS
  purser-server --config=FILE [--flag=value ...]
  purser-server --data_dir=DIR --plans_dir=DIR [--listen=ADDR] [--flag=value ...]
  purser-server COMMAND [--flag=value ...]

DESCRIPTION
  Serves the agent and operator APIs on one mutual-TLS port. The data
  directory is initialised on first start: CA, server certificate, SQLite
  database, and the first administrator's certificate (admin.pem, admin.key).

  Every flag below can be set in the --config file as `flag = value`, one a
  line ('#' starts a comment); a flag on the command line wins over the file.
  Logs go to stderr (with syslog priorities when it is the journal).

COMMANDS (purser-server COMMAND --help for each)
%s
SIGNALS
  SIGHUP           read the config file's log_level and the plans directory
                   again (systemctl reload); agents stay connected
  SIGTERM, SIGINT  finish in-flight calls and stop

FILES (of the Debian package)
  /etc/purser/purser-server.conf   configuration
  /var/lib/purser/data             data directory
  /var/lib/purser/plans            plans directory

Flags:)";

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && argv[1][0] != '-') {  // a subcommand: backup, restore, ...
    const purser::server::Command* command = purser::server::FindCommand(argv[1]);
    if (command == nullptr) {
      std::cerr << "purser-server: unknown command \"" << argv[1] << "\"\n";
      purser::server::PrintCommands();
      return 2;
    }
    return command->run(argc - 1, argv + 1);
  }
  absl::SetProgramUsageMessage(absl::StrFormat(kUsage, purser::server::CommandList()));
  absl::FlagsUsageConfig usage;  // --help lists the server's own flags
  usage.contains_helpshort_flags = [](absl::string_view file) {
    return absl::StrContains(file, "server/");
  };
  usage.contains_help_flags = usage.contains_helpshort_flags;
  usage.normalize_filename = [](absl::string_view file) {
    size_t at = file.rfind("server/");
    return std::string(at == absl::string_view::npos ? file : file.substr(at));
  };
  usage.version_string = [] { return std::string("purser-server " PURSER_VERSION "\n"); };
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  const auto on_command_line = purser::server::FlagsOnCommandLine(argc, argv);
  const std::string config = absl::GetFlag(FLAGS_config);
  if (!config.empty()) {
    auto applied = purser::server::ApplyConfigFile(config, on_command_line);
    if (!applied.ok()) {
      std::cerr << "purser-server: " << applied.status().message() << "\n";
      return 2;
    }
  }
  purser::SetLogToJournal(purser::StderrIsJournal());
  purser::SetLogLevel(absl::GetFlag(FLAGS_log_level));
  purser::SetLogPrefix("server: ");
  if (!absl::GetFlag(FLAGS_mutex_deadlock_checks)) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  if (absl::GetFlag(FLAGS_data_dir).empty()) {
    std::cerr << "purser-server: --data_dir (or data_dir in the --config file) is required\n";
    return 2;
  }
  // Signals are taken synchronously by this thread only.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  purser::server::ServerOptions o;
  o.data_dir = absl::GetFlag(FLAGS_data_dir);
  o.listen = absl::GetFlag(FLAGS_listen);
  o.plans_dir = absl::GetFlag(FLAGS_plans_dir);
  o.port_file = absl::GetFlag(FLAGS_port_file);
  o.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  o.metrics_port_file = absl::GetFlag(FLAGS_metrics_port_file);
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
  o.secrets_key_file = absl::GetFlag(FLAGS_secrets_key_file);
  o.server_cert_seconds = absl::GetFlag(FLAGS_server_cert_seconds);
  o.server_cert_renew_before_seconds = absl::GetFlag(FLAGS_server_cert_renew_before);
  auto server = purser::server::Server::Start(o);
  if (!server.ok()) {  // logged, so that the journal records it as an error
    purser::LogError("cannot start: %s", server.status().message());
    return 1;
  }
  purser::server::NotifyServiceManager(
      absl::StrFormat("READY=1\nSTATUS=serving on port %d", (*server)->port()));
  int sig = 0;
  while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
    purser::server::Reload(server->get(), config, on_command_line);
  }
  purser::LogInfo("signal %d: shutting down", sig);
  purser::server::NotifyServiceManager("STOPPING=1");
  (*server)->Shutdown();
  return 0;
}
