// Which operating systems the down-level method supports, and platform matching.
#pragma once
#include <string>

#include "purser/v1/common.pb.h"
#include "purser/v1/plan.pb.h"

namespace purser {

// Windows 7 SP1 Enterprise/Professional, Windows 8.1 Pro/Enterprise,
// Windows Server 2008 R2 SP1; x64 or x86.
bool IsSupportedOs(const v1::OsFacts& os);
// Why `os` is unsupported, for the endpoint's state detail; "" when supported.
std::string UnsupportedReason(const v1::OsFacts& os);
// Whether a plan step's platform entry covers `os`.
bool PlatformMatches(const v1::Platform& platform, const v1::OsFacts& os);
// "Windows 7 SP1 Enterprise x64".
std::string OsDisplayName(const v1::OsFacts& os);
// "WINDOWS_7" for OS_PRODUCT_WINDOWS_7.
std::string ShortEnumName(const std::string& full, const std::string& prefix);

}  // namespace purser
