// purserctl's command line: flags parsed here rather than by Abseil's
// ParseCommandLine, so that an unknown flag or a bad value is a usage error
// (exit 2) and --help prints purserctl's own usage (exit 0).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace purser::ctl {

struct Args {
  std::vector<std::string> positional;
  bool help = false;
};

// Sets every flag given (--name=value, --name value, --bool, --nobool) and
// returns the rest. INVALID_ARGUMENT names the flag that is unknown or wrong.
absl::StatusOr<Args> ParseArgs(int argc, char** argv);

// "k=v" items as a map; INVALID_ARGUMENT names `flag` and the item without '='.
absl::StatusOr<std::map<std::string, std::string>> ParseKeyValues(
    const std::string& flag, const std::vector<std::string>& items);

}  // namespace purser::ctl
