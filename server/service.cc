#include "server/service.h"

#include <systemd/sd-daemon.h>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "server/config_file.h"
#include "shared/logging.h"

namespace purser::server {

void NotifyServiceManager(const std::string& state) {
  int r = sd_notify(0, state.c_str());
  if (r < 0) LogWarning("sd_notify(%s): error %d", state, -r);
}

void Reload(Server* server, const std::string& config_path,
            const absl::flat_hash_set<std::string>& on_command_line) {
  NotifyServiceManager("RELOADING=1");
  LogInfo("reloading");
  if (!config_path.empty()) {
    // Only the log level is applied at a reload; every other setting keeps
    // the value the server started with (and uses) until a restart.
    auto changes = ReloadConfigFile(config_path, on_command_line, {"log_level"});
    if (!changes.ok()) {
      LogError("reload: %s; the settings in use stay", changes.status().message());
    } else {
      for (const std::string& name : changes->pending) {
        LogWarning("reload: %s changed in %s; it takes effect at the next restart", name,
                   config_path);
      }
      const absl::CommandLineFlag* flag = absl::FindCommandLineFlag("log_level");
      if (auto level = flag ? flag->TryGet<LogLevel>() : absl::nullopt) SetLogLevel(*level);
    }
  }
  absl::Status plans = server->ReloadPlans();
  if (!plans.ok()) {
    LogError("reload: plans not reloaded, the %d loaded before stay: %s",
             static_cast<int>(server->core()->Plans()->size()), plans.message());
  }
  NotifyServiceManager("READY=1");
}

}  // namespace purser::server
