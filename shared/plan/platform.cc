#include "shared/plan/platform.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace purser {
namespace {

bool EditionIs(const v1::OsFacts& os, const char* a, const char* b = nullptr) {
  return absl::EqualsIgnoreCase(os.edition(), a) || (b && absl::EqualsIgnoreCase(os.edition(), b));
}

}  // namespace

std::string UnsupportedReason(const v1::OsFacts& os) {
  if (os.arch() == v1::ARCH_UNSPECIFIED) return "architecture unknown";
  switch (os.product()) {
    case v1::OS_PRODUCT_WINDOWS_7:
      if (os.service_pack() < 1) return "Windows 7 needs Service Pack 1";
      if (!EditionIs(os, "Enterprise", "Professional") && !EditionIs(os, "Pro")) {
        return absl::StrCat("Windows 7 edition ", os.edition(),
                            " is not supported (Enterprise or Professional only)");
      }
      return "";
    case v1::OS_PRODUCT_WINDOWS_8_1:
      if (!EditionIs(os, "Enterprise", "Professional") && !EditionIs(os, "Pro")) {
        return absl::StrCat("Windows 8.1 edition ", os.edition(),
                            " is not supported (Pro or Enterprise only)");
      }
      return "";
    case v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2:
      if (os.service_pack() < 1) return "Windows Server 2008 R2 needs Service Pack 1";
      return "";
    case v1::OS_PRODUCT_WINDOWS_10:
      return "Windows 10 is onboarded natively, not by the down-level method";
    default:
      return absl::StrCat(OsDisplayName(os), " is not a down-level Windows platform");
  }
}

bool IsSupportedOs(const v1::OsFacts& os) { return UnsupportedReason(os).empty(); }

bool PlatformMatches(const v1::Platform& platform, const v1::OsFacts& os) {
  if (platform.product() != os.product()) return false;
  if (os.service_pack() < platform.min_service_pack()) return false;
  if (platform.arch() != v1::ARCH_UNSPECIFIED && platform.arch() != os.arch()) return false;
  if (platform.editions_size() == 0) return true;
  for (const auto& e : platform.editions()) {
    if (absl::EqualsIgnoreCase(e, os.edition())) return true;
  }
  return false;
}

std::string ShortEnumName(const std::string& full, const std::string& prefix) {
  return absl::StartsWith(full, prefix) ? full.substr(prefix.size()) : full;
}

std::string OsDisplayName(const v1::OsFacts& os) {
  std::string product;
  switch (os.product()) {
    case v1::OS_PRODUCT_WINDOWS_7:
      product = "Windows 7";
      break;
    case v1::OS_PRODUCT_WINDOWS_8_1:
      product = "Windows 8.1";
      break;
    case v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2:
      product = "Windows Server 2008 R2";
      break;
    case v1::OS_PRODUCT_WINDOWS_10:
      product = "Windows 10";
      break;
    case v1::OS_PRODUCT_LINUX:
      product = "Linux";
      break;
    default:
      product = "unknown OS";
      break;
  }
  std::string out = product;
  if (os.service_pack() > 0) absl::StrAppend(&out, " SP", os.service_pack());
  if (!os.edition().empty()) absl::StrAppend(&out, " ", os.edition());
  if (os.arch() == v1::ARCH_X64) absl::StrAppend(&out, " x64");
  if (os.arch() == v1::ARCH_X86) absl::StrAppend(&out, " x86");
  return out;
}

}  // namespace purser
