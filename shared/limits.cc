#include "shared/limits.h"

#include "absl/strings/str_cat.h"

namespace purser {
namespace {

absl::Status TooLong(const std::string& path, size_t size, size_t max) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": ", size, " bytes, longer than the ", max, " allowed"));
}

absl::Status Short(const std::string& value, const std::string& path) {
  return value.size() > kMaxShortString ? TooLong(path, value.size(), kMaxShortString)
                                        : absl::OkStatus();
}

}  // namespace

absl::Status CheckInventory(const v1::Inventory& inv, const std::string& path) {
  size_t bytes = inv.ByteSizeLong();
  if (bytes > kMaxInventoryBytes) return TooLong(path, bytes, kMaxInventoryBytes);
  for (const auto& [value, field] : {std::pair{&inv.hostname(), "hostname"},
                                     {&inv.dotnet_version(), "dotnet_version"},
                                     {&inv.agent_version(), "agent_version"},
                                     {&inv.agent_nonce(), "agent_nonce"},
                                     {&inv.os().version(), "os.version"},
                                     {&inv.os().edition(), "os.edition"}}) {
    if (absl::Status st = Short(*value, absl::StrCat(path, ".", field)); !st.ok()) return st;
  }
  if (inv.installed_kbs_size() > kMaxInstalledKbs) {
    return absl::InvalidArgumentError(absl::StrCat(path,
                                                   ".installed_kbs: ", inv.installed_kbs_size(),
                                                   " entries, more than ", kMaxInstalledKbs));
  }
  for (int i = 0; i < inv.installed_kbs_size(); ++i) {
    if (absl::Status st =
            Short(inv.installed_kbs(i), absl::StrCat(path, ".installed_kbs[", i, "]"));
        !st.ok())
      return st;
  }
  if (inv.services_size() > kMaxServices) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".services: ", inv.services_size(),
                                                   " entries, more than ", kMaxServices));
  }
  return absl::OkStatus();
}

absl::Status CheckReport(const v1::ReportResultRequest& r) {
  if (r.job_id().empty()) return absl::InvalidArgumentError("job_id: required");
  if (r.job_id().size() > kMaxShortString)
    return TooLong("job_id", r.job_id().size(), kMaxShortString);
  if (r.attempt() < 1) return absl::InvalidArgumentError("attempt: must be >= 1");
  if (r.outcome() == v1::STEP_OUTCOME_UNSPECIFIED) {
    return absl::InvalidArgumentError("outcome: required");
  }
  if (r.message().size() > kMaxReportMessageBytes) {
    return TooLong("message", r.message().size(), kMaxReportMessageBytes);
  }
  if (r.output_tail().size() > kMaxOutputTailBytes) {
    return absl::InvalidArgumentError("output_tail: longer than 16 KiB");
  }
  if (r.has_inventory()) return CheckInventory(r.inventory(), "inventory");
  return absl::OkStatus();
}

}  // namespace purser
