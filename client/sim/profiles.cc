#include "client/sim/profiles.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace purser::client::sim {
namespace {

struct Profile {
  const char* name;
  v1::OsProduct product;
  const char* version;
  int sp;
  const char* edition;
  v1::Arch arch;
  const char* dotnet;
  std::vector<const char*> kbs;
  bool windefend;      // Defender AV present and running
  bool mma_installed;  // already onboarded by hand
  // MMA installed, reporting to another team's workspace only (not Defender's).
  bool other_mma = false;
};

const std::vector<Profile>& Profiles() {
  static const auto* profiles = new std::vector<Profile>{
      {"win7-sp1-x64-ent",
       v1::OS_PRODUCT_WINDOWS_7,
       "6.1.7601",
       1,
       "Enterprise",
       v1::ARCH_X64,
       "3.5",
       {},
       true,
       false},
      {"win7-sp1-x86-pro",
       v1::OS_PRODUCT_WINDOWS_7,
       "6.1.7601",
       1,
       "Professional",
       v1::ARCH_X86,
       "4.5.2",
       {"KB4074598"},
       true,
       false},
      {"win81-x64-ent",
       v1::OS_PRODUCT_WINDOWS_8_1,
       "6.3.9600",
       0,
       "Enterprise",
       v1::ARCH_X64,
       "4.5.1",
       {},
       true,
       false},
      {"win81-x86-pro",
       v1::OS_PRODUCT_WINDOWS_8_1,
       "6.3.9600",
       0,
       "Professional",
       v1::ARCH_X86,
       "4.5.1",
       {},
       true,
       false},
      {"win2008r2-sp1-x64",
       v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2,
       "6.1.7601",
       1,
       "Standard",
       v1::ARCH_X64,
       "3.5",
       {},
       false,
       false},
      {"win7-sp1-x64-ent-onboarded",
       v1::OS_PRODUCT_WINDOWS_7,
       "6.1.7601",
       1,
       "Enterprise",
       v1::ARCH_X64,
       "4.8",
       {"KB4074598", "KB3080149", "KB4490628", "KB4474419"},
       true,
       true},
      {"win7-sp1-x64-ent-other-mma",
       v1::OS_PRODUCT_WINDOWS_7,
       "6.1.7601",
       1,
       "Enterprise",
       v1::ARCH_X64,
       "4.8",
       {"KB4074598", "KB3080149", "KB4490628", "KB4474419"},
       true,
       false,
       true},
      {"win10-x64-ent",
       v1::OS_PRODUCT_WINDOWS_10,
       "10.0.19045",
       0,
       "Enterprise",
       v1::ARCH_X64,
       "4.8",
       {},
       true,
       false},
  };
  return *profiles;
}

}  // namespace

std::vector<std::string> ProfileNames() {
  std::vector<std::string> out;
  for (const auto& p : Profiles()) out.push_back(p.name);
  return out;
}

absl::StatusOr<v1::SimMachine> MakeProfile(const std::string& name, const std::string& hostname) {
  for (const auto& p : Profiles()) {
    if (name != p.name) continue;
    v1::SimMachine m;
    m.set_profile(p.name);
    v1::Inventory* inv = m.mutable_inventory();
    inv->set_hostname(hostname);
    inv->mutable_os()->set_product(p.product);
    inv->mutable_os()->set_version(p.version);
    inv->mutable_os()->set_service_pack(p.sp);
    inv->mutable_os()->set_edition(p.edition);
    inv->mutable_os()->set_arch(p.arch);
    inv->mutable_os()->set_product_type(p.product == v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2
                                            ? v1::PRODUCT_TYPE_SERVER
                                            : v1::PRODUCT_TYPE_WORKSTATION);
    inv->set_dotnet_version(p.dotnet);
    for (const char* kb : p.kbs) inv->add_installed_kbs(kb);
    auto* wd = inv->add_services();
    wd->set_name("windefend");
    wd->set_status(p.windefend ? v1::SERVICE_STATUS_RUNNING : v1::SERVICE_STATUS_NOT_INSTALLED);
    m.set_mma_installed(p.mma_installed);
    if (p.mma_installed || p.other_mma) {
      m.set_mma_installed(true);
      m.add_files("C:\\Program Files\\Microsoft Monitoring Agent\\Agent\\MonitoringHost.exe");
      auto* ws = m.add_workspaces();
      ws->set_id(p.other_mma ? "another-teams-log-analytics" : "preexisting-workspace");
      ws->set_key_present(true);
      ws->set_defender(!p.other_mma);
    }
    return m;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown simulated profile \"", name,
                                                 "\" (known: ", absl::StrJoin(ProfileNames(), ", "),
                                                 ")"));
}

}  // namespace purser::client::sim
