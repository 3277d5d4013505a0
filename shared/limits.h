// What one endpoint may send: bounded, so that no agent can make a listing,
// a history or the database grow past what every operator can read.
#pragma once
#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "purser/v1/agent.pb.h"
#include "purser/v1/common.pb.h"

namespace purser {

inline constexpr size_t kMaxReportMessageBytes = 4 * 1024;
inline constexpr size_t kMaxOutputTailBytes = 16 * 1024;
inline constexpr size_t kMaxInventoryBytes = 64 * 1024;
inline constexpr int kMaxInstalledKbs = 4000;  // a well-patched 2008 R2 has ~600
inline constexpr int kMaxServices = 256;
inline constexpr size_t kMaxShortString = 256;  // hostname, versions, names

// INVALID_ARGUMENT naming the field (under `path`) that is too long or too many.
absl::Status CheckInventory(const v1::Inventory& inventory, const std::string& path);
absl::Status CheckReport(const v1::ReportResultRequest& report);

}  // namespace purser
