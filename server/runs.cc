#include "server/runs.h"

#include "absl/strings/str_cat.h"
#include "shared/crypto.h"
#include "shared/plan/effective_plan.h"

namespace purser::server {

absl::Status CheckSecretParams(ServerCore* core, const v1::Plan& plan,
                               const std::map<std::string, std::string>& params) {
  for (const auto& p : plan.params()) {
    auto it = params.find(p.name());
    if (!p.secret() || it == params.end()) continue;
    // The value is not echoed: an operator may have passed the secret itself.
    auto sealed = core->store->GetSealedSecret(it->second);
    if (sealed.status().code() == absl::StatusCode::kNotFound) {
      return absl::FailedPreconditionError(absl::StrCat(
          "params.", p.name(),
          ": no stored secret has the name given (a secret parameter takes the name of a secret "
          "stored with: purserctl secret put NAME --from_file FILE; never the secret itself)"));
    }
    if (!sealed.ok()) return sealed.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<db::RunSpec> MakeRunSpec(ServerCore* core, const v1::Plan& plan,
                                        const std::map<std::string, std::string>& given,
                                        const v1::RebootPolicy& policy,
                                        const std::string& created_by) {
  auto params = ResolveParams(plan, given);
  if (!params.ok()) return params.status();
  // Refused now rather than failing every endpoint's step later.
  if (absl::Status st = CheckSecretParams(core, plan, *params); !st.ok()) return st;
  db::RunSpec spec;
  for (const auto& p : plan.params()) {
    auto it = params->find(p.name());
    if (!p.secret() || it == params->end()) continue;
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
  spec.run_id = absl::StrCat("r-", RandomHex(8));
  spec.plan = plan;
  spec.created_by = created_by;
  spec.now_ms = core->clock->NowMs();
  return spec;
}

void HideUnknownSecretNames(ServerCore* core, const std::string& plan_name,
                            google::protobuf::Map<std::string, std::string>* params) {
  auto plans = core->Plans();
  auto plan = plans->find(plan_name);
  for (auto& [name, value] : *params) {
    bool secret = plan == plans->end();  // unknown plan: assume every value may be one
    if (plan != plans->end()) {
      for (const auto& p : plan->second.params()) secret |= p.secret() && p.name() == name;
    }
    if (secret && !core->store->GetSealedSecret(value).ok())
      value = "[not a secret's name: hidden]";
  }
}

}  // namespace purser::server
