// The steps of a plan that apply to one endpoint, and parameter resolution.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "purser/v1/common.pb.h"
#include "purser/v1/plan.pb.h"

namespace purser {

// Indices into plan.steps() of the steps that apply to `os` with `params`
// (platform match and when_param == "true"), in plan order.
std::vector<int> EffectiveSteps(const v1::Plan& plan, const v1::OsFacts& os,
                                const std::map<std::string, std::string>& params);

// The run's parameters: `given` checked against the plan's declarations, with
// defaults filled in. Unknown or missing required parameters are errors.
absl::StatusOr<std::map<std::string, std::string>> ResolveParams(
    const v1::Plan& plan, const std::map<std::string, std::string>& given);

// Step settings with defaults applied.
int StepTimeoutSeconds(const v1::Step& step);
int StepMaxAttempts(const v1::Step& step);
int StepBackoffSeconds(const v1::Step& step);

// The SHA-256 (hex) of a plan's content, deterministically serialized: the
// version a run or campaign is pinned to.
std::string PlanDigest(const v1::Plan& plan);

// The secret parameters a step references as ${secret:name}: the only
// secrets its job may carry.
std::set<std::string> SecretRefs(const v1::Step& step);

// Replaces ${name} with params[name] and ${secret:name} with params["secret:name"].
absl::StatusOr<std::string> ExpandRefs(const std::string& text,
                                       const std::map<std::string, std::string>& params);

}  // namespace purser
