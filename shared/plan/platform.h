// Which operating systems the down-level method supports, and platform matching.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "purser/v1/common.pb.h"
#include "purser/v1/plan.pb.h"

namespace purser {

// Windows 7 SP1 Enterprise/Professional, Windows 8.1 Pro/Enterprise,
// Windows Server 2008 R2 SP1; x64 or x86.
bool IsSupportedOs(const v1::OsFacts& os);
// Why `os` is unsupported, for the endpoint's state detail; "" when supported.
std::string UnsupportedReason(const v1::OsFacts& os);
struct WindowsVersion {
  int major = -1;  // -1: not a version
  int minor = 0;
  int build = 0;
};
// "6.1.7601" -> {6, 1, 7601}.
WindowsVersion ParseWindowsVersion(const std::string& version);
// The Windows product a version and product type make (Windows names 6.1 both
// Windows 7 and Server 2008 R2; the type tells them apart, or, when an older
// agent did not send it, `server_hint`). UNSPECIFIED when none.
v1::OsProduct ProductOf(const std::string& version, v1::ProductType type, bool server_hint);
// Why the reported facts contradict each other (product against version and
// type, service pack against build); "" when they agree. Such an endpoint is
// unsupported: nothing is installed on a platform claim the server cannot check.
std::string InconsistencyOf(const v1::OsFacts& os);
// Whether a plan step's platform entry covers `os` (consistent facts only).
bool PlatformMatches(const v1::Platform& platform, const v1::OsFacts& os);
// "Windows 7 SP1 Enterprise x64".
std::string OsDisplayName(const v1::OsFacts& os);
// The facts a short OS name gives, for previewing a plan without a machine:
// "<os>[-sp<N>]-<x64|x86>[-<edition>]", os one of win7 win8 win81 win10
// win2008 win2008r2 win2012 win2012r2, edition ent pro std dc ult (default:
// Enterprise, or Standard for a server); e.g. "win7-sp1-x86-pro". Errors
// name the part that is wrong.
absl::StatusOr<v1::OsFacts> ParseOsName(const std::string& name);
// "WINDOWS_7" for OS_PRODUCT_WINDOWS_7.
std::string ShortEnumName(const std::string& full, const std::string& prefix);

}  // namespace purser
