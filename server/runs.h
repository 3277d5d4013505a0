// Building a run of a plan: parameters checked, secrets referenced by name
// (and known to exist), artifacts pinned by hash. Used by StartRun and campaigns.
#pragma once
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "db/store.h"
#include "server/core.h"

namespace purser::server {

absl::StatusOr<db::RunSpec> MakeRunSpec(ServerCore* core, const v1::Plan& plan,
                                        const std::map<std::string, std::string>& params,
                                        const v1::RebootPolicy& reboot_policy,
                                        const std::string& created_by);

}  // namespace purser::server
