#include "shared/plan/platform.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace purser {
namespace {

// Windows names regional and media-centre variants by a suffix on the
// EditionID: ProfessionalN, EnterpriseN, EnterpriseE, ProfessionalWMC, ...
std::string BaseEdition(const std::string& edition) {
  for (const char* base : {"Enterprise", "Professional", "Pro"}) {
    if (!absl::StartsWithIgnoreCase(edition, base)) continue;
    std::string rest = edition.substr(std::string(base).size());
    for (const char* suffix : {"", "N", "KN", "K", "E", "WMC", "NWMC"}) {
      if (absl::EqualsIgnoreCase(rest, suffix)) return base;
    }
  }
  return edition;
}

bool EditionIs(const v1::OsFacts& os, const char* a, const char* b = nullptr) {
  std::string e = BaseEdition(os.edition());
  return absl::EqualsIgnoreCase(e, a) || (b && absl::EqualsIgnoreCase(e, b));
}

bool IsWindows(v1::OsProduct p) {
  return p != v1::OS_PRODUCT_UNSPECIFIED && p != v1::OS_PRODUCT_LINUX && p != v1::OS_PRODUCT_OTHER;
}

bool IsServerProduct(v1::OsProduct p) {
  return p == v1::OS_PRODUCT_WINDOWS_SERVER_2008 || p == v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2 ||
         p == v1::OS_PRODUCT_WINDOWS_SERVER_2012 || p == v1::OS_PRODUCT_WINDOWS_SERVER_2012_R2;
}

std::string ProductName(v1::OsProduct p) {
  v1::OsFacts os;
  os.set_product(p);
  return OsDisplayName(os);
}

}  // namespace

WindowsVersion ParseWindowsVersion(const std::string& version) {
  WindowsVersion v;
  std::vector<std::string> parts = absl::StrSplit(version, '.');
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &v.major) ||
      !absl::SimpleAtoi(parts[1], &v.minor) ||
      (parts.size() > 2 && !absl::SimpleAtoi(parts[2], &v.build))) {
    v.major = -1;
  }
  return v;
}

v1::OsProduct ProductOf(const std::string& version, v1::ProductType type, bool server_hint) {
  WindowsVersion v = ParseWindowsVersion(version);
  bool server =
      type == v1::PRODUCT_TYPE_UNSPECIFIED ? server_hint : type != v1::PRODUCT_TYPE_WORKSTATION;
  if (v.major == 6 && v.minor == 0) {
    return server ? v1::OS_PRODUCT_WINDOWS_SERVER_2008 : v1::OS_PRODUCT_OTHER;  // Vista
  }
  if (v.major == 6 && v.minor == 1) {
    return server ? v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2 : v1::OS_PRODUCT_WINDOWS_7;
  }
  if (v.major == 6 && v.minor == 2) {
    return server ? v1::OS_PRODUCT_WINDOWS_SERVER_2012 : v1::OS_PRODUCT_WINDOWS_8;
  }
  if (v.major == 6 && v.minor == 3) {
    return server ? v1::OS_PRODUCT_WINDOWS_SERVER_2012_R2 : v1::OS_PRODUCT_WINDOWS_8_1;
  }
  if (v.major == 10 && v.minor == 0 && !server) return v1::OS_PRODUCT_WINDOWS_10;
  return v1::OS_PRODUCT_UNSPECIFIED;
}

std::string InconsistencyOf(const v1::OsFacts& os) {
  if (!IsWindows(os.product())) return "";
  if (ParseWindowsVersion(os.version()).major < 0) {
    return absl::StrCat("reports ", ProductName(os.product()), " with version \"", os.version(),
                        "\", not a Windows version: the inventory cannot be trusted");
  }
  v1::OsProduct actual = ProductOf(os.version(), os.product_type(), IsServerProduct(os.product()));
  if (actual != os.product()) {
    std::string what =
        actual == v1::OS_PRODUCT_UNSPECIFIED ? "an unknown Windows" : ProductName(actual);
    if (actual == v1::OS_PRODUCT_OTHER) what = "Windows Vista";
    return absl::StrCat(
        "reports ", ProductName(os.product()), " but its version ", os.version(),
        os.product_type() == v1::PRODUCT_TYPE_UNSPECIFIED
            ? ""
            : absl::StrCat(" (",
                           ShortEnumName(v1::ProductType_Name(os.product_type()), "PRODUCT_TYPE_"),
                           ")"),
        " is ", what);
  }
  // Service Pack 1 of 6.1 is build 7601; RTM is 7600.
  WindowsVersion v = ParseWindowsVersion(os.version());
  if (v.major == 6 && v.minor == 1 && v.build > 0 &&
      (v.build >= 7601) != (os.service_pack() >= 1)) {
    return absl::StrCat("reports Service Pack ", os.service_pack(), " but build ", v.build, " is ",
                        v.build >= 7601 ? "Service Pack 1" : "without a service pack");
  }
  return "";
}

std::string UnsupportedReason(const v1::OsFacts& os) {
  if (std::string bad = InconsistencyOf(os); !bad.empty()) return bad;
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
    case v1::OS_PRODUCT_WINDOWS_8:
      return "Windows 8 is not supported by the down-level method (upgrade it to Windows 8.1)";
    case v1::OS_PRODUCT_WINDOWS_SERVER_2008:
      return "Windows Server 2008 is not supported by the down-level method (only 2008 R2 SP1)";
    case v1::OS_PRODUCT_WINDOWS_SERVER_2012:
    case v1::OS_PRODUCT_WINDOWS_SERVER_2012_R2:
      return absl::StrCat(ProductName(os.product()),
                          " is onboarded with the unified solution, not the down-level method");
    default:
      return absl::StrCat(OsDisplayName(os), " is not a down-level Windows platform");
  }
}

bool IsSupportedOs(const v1::OsFacts& os) { return UnsupportedReason(os).empty(); }

bool PlatformMatches(const v1::Platform& platform, const v1::OsFacts& os) {
  if (platform.product() != os.product() || !InconsistencyOf(os).empty()) return false;
  if (os.service_pack() < platform.min_service_pack()) return false;
  if (platform.arch() != v1::ARCH_UNSPECIFIED && platform.arch() != os.arch()) return false;
  if (platform.editions_size() == 0) return true;
  std::string edition = BaseEdition(os.edition());
  for (const auto& e : platform.editions()) {
    if (absl::EqualsIgnoreCase(e, edition)) return true;
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
    case v1::OS_PRODUCT_WINDOWS_8:
      product = "Windows 8";
      break;
    case v1::OS_PRODUCT_WINDOWS_SERVER_2008:
      product = "Windows Server 2008";
      break;
    case v1::OS_PRODUCT_WINDOWS_SERVER_2012:
      product = "Windows Server 2012";
      break;
    case v1::OS_PRODUCT_WINDOWS_SERVER_2012_R2:
      product = "Windows Server 2012 R2";
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

absl::StatusOr<v1::OsFacts> ParseOsName(const std::string& name) {
  struct Os {
    const char* name;
    v1::OsProduct product;
    const char* version;  // with the service pack below, if any
    const char* version_sp1;
    bool server;
  };
  static const Os kOses[] = {
      {"win7", v1::OS_PRODUCT_WINDOWS_7, "6.1.7600", "6.1.7601", false},
      {"win8", v1::OS_PRODUCT_WINDOWS_8, "6.2.9200", "", false},
      {"win81", v1::OS_PRODUCT_WINDOWS_8_1, "6.3.9600", "", false},
      {"win10", v1::OS_PRODUCT_WINDOWS_10, "10.0.19045", "", false},
      {"win2008", v1::OS_PRODUCT_WINDOWS_SERVER_2008, "6.0.6001", "6.0.6001", true},
      {"win2008r2", v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2, "6.1.7600", "6.1.7601", true},
      {"win2012", v1::OS_PRODUCT_WINDOWS_SERVER_2012, "6.2.9200", "", true},
      {"win2012r2", v1::OS_PRODUCT_WINDOWS_SERVER_2012_R2, "6.3.9600", "", true},
  };
  static const std::pair<const char*, const char*> kEditions[] = {
      {"ent", "Enterprise"}, {"pro", "Professional"}, {"std", "Standard"},
      {"dc", "Datacenter"},  {"ult", "Ultimate"},
  };
  std::vector<std::string> parts = absl::StrSplit(name, '-');
  const Os* os = nullptr;
  for (const auto& o : kOses) {
    if (parts[0] == o.name) os = &o;
  }
  if (os == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", parts[0], "\" in \"", name,
        "\" is not an OS (win7, win8, win81, win10, win2008, win2008r2, win2012, win2012r2)"));
  }
  v1::OsFacts facts;
  facts.set_product(os->product);
  facts.set_version(os->version);
  facts.set_product_type(os->server ? v1::PRODUCT_TYPE_SERVER : v1::PRODUCT_TYPE_WORKSTATION);
  facts.set_edition(os->server ? "Standard" : "Enterprise");
  size_t i = 1;
  if (i < parts.size() && parts[i].rfind("sp", 0) == 0) {
    int sp = 0;
    if (!absl::SimpleAtoi(parts[i].substr(2), &sp) || sp < 0 || sp > 2 || *os->version_sp1 == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", parts[i], "\" in \"", name, "\" is not a service pack of ", parts[0]));
    }
    facts.set_service_pack(sp);
    if (sp > 0) facts.set_version(os->version_sp1);
    ++i;
  }
  if (i >= parts.size() || (parts[i] != "x64" && parts[i] != "x86")) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" names no architecture (x64 or x86) after the OS"));
  }
  facts.set_arch(parts[i] == "x64" ? v1::ARCH_X64 : v1::ARCH_X86);
  if (++i < parts.size()) {
    bool known = false;
    for (const auto& [abbrev, edition] : kEditions) {
      if (parts[i] == abbrev) {
        facts.set_edition(edition);
        known = true;
      }
    }
    if (!known || i + 1 < parts.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", parts[i], "\" in \"", name, "\" is not an edition (ent, pro, std, dc, ult)"));
    }
  }
  return facts;
}

}  // namespace purser
