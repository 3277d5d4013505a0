// Loading and validating plan files (protobuf text format, or JSON by extension).
// Errors name the file, the line (text format) and the field path, e.g.
//   deploy/plans/x.textproto:42: steps[3].install_update.package: unknown artifact "foo.msu"
#pragma once
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "purser/v1/plan.pb.h"

namespace purser {

// Parses and validates one plan. `filename` is used in error messages and to
// pick the format (".json" = JSON, anything else = text format).
absl::StatusOr<v1::Plan> ParsePlan(const std::string& text, const std::string& filename);
absl::StatusOr<v1::Plan> LoadPlanFile(const std::string& path);
// Plans travel in one message: well under its 1 MiB.
inline constexpr size_t kMaxPlanBytes = 512 * 1024;
// The offset of the first byte that is not valid UTF-8, or npos.
size_t InvalidUtf8At(absl::string_view text);
// A plan name is also its file name: 1-64 of [a-z0-9._-], starting alphanumeric.
bool IsPlanName(const std::string& name);
// Keeps a validated plan's text in `dir` as <name>.textproto (or .json) and
// removes any other file there that defined the same plan, so the next
// LoadPlanDir finds it once; then runs `then` (e.g. installing the plan in
// memory), all under one lock, so memory and disk agree. Names are checked
// (IsPlanName); a file of that name holding another plan is not overwritten.
absl::Status SavePlanFile(const std::string& dir, const std::string& name, bool json,
                          const std::string& text, const std::function<void()>& then = nullptr);
// Every *.textproto and *.json plan in `dir`, by plan name. Fails on the first
// bad file, and on a plan defined twice, unless one of the two files is named
// after it (it wins; of two so named, the newer).
absl::StatusOr<std::map<std::string, v1::Plan>> LoadPlanDir(const std::string& dir);
// LoadPlanDir, then `install` with the plans, with no SavePlanFile in between
// (its plan is on disk and in memory, or in neither). On an error nothing is
// installed.
absl::Status ReloadPlanDir(const std::string& dir,
                           const std::function<void(std::map<std::string, v1::Plan>)>& install);

}  // namespace purser
