// Drift: onboarded endpoints are re-verified on a schedule (the guide's daily
// task) with the VERIFY steps of the plan version that onboarded them. A failed
// re-verify leaves the endpoint DRIFTED, with what failed; with remediation
// on, a drifted endpoint is onboarded again with that run's parameters.
#pragma once
#include "server/core.h"

namespace purser::server {

// The re-verification plan of an onboarding plan: its VERIFY steps, one attempt each.
v1::Plan VerifyPlan(const v1::Plan& onboard);

class DriftChecker {
 public:
  explicit DriftChecker(ServerCore* core) : core_(core) {}
  // Starts the re-verifications and remediations that are due.
  void Tick();

 private:
  void Start(const v1::Plan& plan, const std::map<std::string, std::string>& stored_params,
             const std::vector<std::string>& ids);
  absl::StatusOr<v1::Plan> PlanOf(const db::Store::DueVerify& due);
  ServerCore* core_;
};

}  // namespace purser::server
