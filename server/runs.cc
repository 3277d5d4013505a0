#include "server/runs.h"

#include "absl/strings/str_cat.h"
#include "shared/crypto.h"
#include "shared/plan/effective_plan.h"

namespace purser::server {

absl::StatusOr<db::RunSpec> MakeRunSpec(ServerCore* core, const v1::Plan& plan,
                                        const std::map<std::string, std::string>& given,
                                        const v1::RebootPolicy& policy,
                                        const std::string& created_by) {
  auto params = ResolveParams(plan, given);
  if (!params.ok()) return params.status();
  db::RunSpec spec;
  for (const auto& p : plan.params()) {
    auto it = params->find(p.name());
    if (!p.secret() || it == params->end()) continue;
    // Refuse now rather than fail every endpoint's step later.
    auto sealed = core->store->GetSealedSecret(it->second);
    if (!sealed.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("params.", p.name(), ": ",
                                                        sealed.status().message(),
                                                        " (store it first with: purserctl "
                                                        "secret put ",
                                                        it->second, ")"));
    }
    spec.params[absl::StrCat("secretref:", p.name())] = it->second;
    params->erase(it);
  }
  spec.params.insert(params->begin(), params->end());
  if (policy.window_start_minute() < 0 || policy.window_start_minute() >= 1440 ||
      policy.window_end_minute() < 0 || policy.window_end_minute() >= 1440) {
    return absl::InvalidArgumentError("reboot_policy: window minutes must be 0..1439 (UTC)");
  }
  spec.reboot_policy = policy;
  auto artifacts = core->artifacts->Resolve(plan);
  if (!artifacts.ok()) return artifacts.status();
  spec.artifacts = *artifacts;
  spec.run_id = absl::StrCat("r-", RandomHex(4));
  spec.plan = plan;
  spec.created_by = created_by;
  spec.now_ms = core->clock->NowMs();
  return spec;
}

}  // namespace purser::server
