#include "server/drift.h"

#include "absl/strings/str_cat.h"
#include "shared/crypto.h"
#include "shared/disk_full.h"
#include "shared/logging.h"

namespace purser::server {

v1::Plan VerifyPlan(const v1::Plan& onboard) {
  v1::Plan plan = onboard;
  plan.set_name(absl::StrCat(onboard.name(), "/reverify"));
  plan.set_purpose(v1::PLAN_PURPOSE_VERIFY);
  plan.clear_steps();
  for (const auto& s : onboard.steps()) {
    if (s.kind() != v1::STEP_KIND_VERIFY) continue;
    *plan.add_steps() = s;
    plan.mutable_steps()->rbegin()->set_max_attempts(1);
  }
  return plan;
}

void DriftChecker::Start(const v1::Plan& plan,
                         const std::map<std::string, std::string>& stored_params,
                         const std::vector<std::string>& ids) {
  db::RunSpec spec;
  spec.run_id = absl::StrCat("r-", RandomHex(8));
  spec.plan = plan;
  spec.params = stored_params;
  spec.endpoint_ids = ids;
  spec.created_by = "drift";
  spec.now_ms = core_->clock->NowMs();
  if (plan.purpose() == v1::PLAN_PURPOSE_ONBOARD) {
    auto artifacts = core_->artifacts->Resolve(plan);
    if (!artifacts.ok()) return;
    spec.artifacts = *artifacts;
  }
  auto out = core_->store->StartRun(spec);
  if (!out.ok()) {
    if (!IsDiskFull(out.status())) {
      LogError("drift: starting %s: %s", plan.name(), out.status().ToString());
    }
    return;
  }
  if (out->started_size() > 0) {
    LogInfo("drift: %s on %d endpoints (run %s)", plan.name(), out->started_size(), out->run_id());
  }
  core_->Notify({out->started().begin(), out->started().end()});
}

// The version the endpoint was onboarded with; by name for runs from before
// plans had versions.
absl::StatusOr<v1::Plan> DriftChecker::PlanOf(const db::Store::DueVerify& d) {
  if (!d.plan_sha256.empty()) return core_->store->GetPlanVersion(d.plan_sha256);
  auto plans = core_->Plans();
  auto plan = plans->find(d.plan_name);
  if (plan == plans->end()) return absl::NotFoundError(d.plan_name);
  return plan->second;
}

void DriftChecker::Tick() {
  int64_t every = core_->options.reverify_every_ms;
  if (every <= 0) return;
  auto due = core_->store->DueForVerify(core_->clock->NowMs() - every, 500);
  if (!due.ok()) {
    LogError("drift: %s", due.status().ToString());
    return;
  }
  for (const auto& d : *due) {
    auto plan = PlanOf(d);
    if (!plan.ok()) continue;  // the plan is gone: nothing to verify with
    v1::Plan verify = VerifyPlan(*plan);
    if (verify.steps_size() == 0) continue;
    Start(verify, d.params, {d.endpoint_id});
  }
  if (!core_->options.remediate_drift) return;
  auto drifted = core_->store->Drifted(500);
  if (!drifted.ok()) return;
  for (const auto& d : *drifted) {
    auto plan = PlanOf(d);
    if (plan.ok()) Start(*plan, d.params, {d.endpoint_id});
  }
}

}  // namespace purser::server
