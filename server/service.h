// purser-server under a service manager (systemd): readiness and state
// notifications (sd_notify; nothing without NOTIFY_SOCKET) and the reload
// that SIGHUP (`systemctl reload`) asks for.
#pragma once
#include <string>

#include "absl/container/flat_hash_set.h"
#include "server/server.h"

namespace purser::server {

// Tells the service manager "READY=1", "STOPPING=1", ... (sd_notify(3)).
void NotifyServiceManager(const std::string& state);

// Reads the config file again (when there is one) and applies its log_level,
// and serves the plans directory's plans anew; agents stay connected. A
// setting that takes effect only at a restart is logged as such. Errors are
// logged (naming the file) and change nothing.
void Reload(Server* server, const std::string& config_path,
            const absl::flat_hash_set<std::string>& on_command_line);

}  // namespace purser::server
