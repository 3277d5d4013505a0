// Building a run of a plan: parameters checked, secrets referenced by name
// (and known to exist), artifacts pinned by hash. Used by StartRun and campaigns.
#pragma once
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "db/store.h"
#include "server/core.h"

namespace purser::server {

// Each secret parameter names a stored secret (the name is all a run keeps).
absl::Status CheckSecretParams(ServerCore* core, const v1::Plan& plan,
                               const std::map<std::string, std::string>& params);

absl::StatusOr<db::RunSpec> MakeRunSpec(ServerCore* core, const v1::Plan& plan,
                                        const std::map<std::string, std::string>& params,
                                        const v1::RebootPolicy& reboot_policy,
                                        const std::string& created_by);

// For the audit log: a secret parameter's value that names no stored secret
// may be the secret itself, pasted by mistake; it is replaced.
void HideUnknownSecretNames(ServerCore* core, const std::string& plan_name,
                            google::protobuf::Map<std::string, std::string>* params);

}  // namespace purser::server
