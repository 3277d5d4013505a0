// Loading and validating plan files (protobuf text format, or JSON by extension).
// Errors name the file, the line (text format) and the field path, e.g.
//   deploy/plans/x.textproto:42: steps[3].install_update.package: unknown artifact "foo.msu"
#pragma once
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "purser/v1/plan.pb.h"

namespace purser {

// Parses and validates one plan. `filename` is used in error messages and to
// pick the format (".json" = JSON, anything else = text format).
absl::StatusOr<v1::Plan> ParsePlan(const std::string& text, const std::string& filename);
absl::StatusOr<v1::Plan> LoadPlanFile(const std::string& path);
// Every *.textproto and *.json plan in `dir`, by plan name. Fails on the first bad file.
absl::StatusOr<std::map<std::string, v1::Plan>> LoadPlanDir(const std::string& dir);

}  // namespace purser
