// Starting points for simulated Windows machines.
#pragma once
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "purser/v1/simulated.pb.h"

namespace purser::client::sim {

// Names of the built-in profiles, e.g. "win7-sp1-x64-ent".
std::vector<std::string> ProfileNames();
// A fresh machine of profile `name` called `hostname`.
absl::StatusOr<v1::SimMachine> MakeProfile(const std::string& name, const std::string& hostname);

}  // namespace purser::client::sim
