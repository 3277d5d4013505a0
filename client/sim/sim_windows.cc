#include "client/sim/sim_windows.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/sim/profiles.h"
#include "google/protobuf/text_format.h"
#include "shared/files.h"
#include "shared/plan/effective_plan.h"

namespace purser::client::sim {
namespace {

// Updates that need a reboot to take effect.
bool KbNeedsReboot(const std::string& kb) {
  return kb == "KB4074598" || kb == "KB4474419" || kb == "KB3154518";
}

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& list, const std::string& v) {
  for (const auto& x : list) {
    if (absl::EqualsIgnoreCase(x, v)) return true;
  }
  return false;
}

v1::ServiceState* FindService(v1::Inventory* inv, const std::string& name) {
  for (auto& s : *inv->mutable_services()) {
    if (absl::EqualsIgnoreCase(s.name(), name)) return &s;
  }
  auto* s = inv->add_services();
  s->set_name(absl::AsciiStrToLower(name));
  s->set_status(v1::SERVICE_STATUS_NOT_INSTALLED);
  return s;
}

// The NT version a .msu package is built for ("6.1" from "Windows6.1-KB...").
std::string PackageNtVersion(const std::string& package) {
  std::string lower = absl::AsciiStrToLower(package);
  if (absl::StartsWith(lower, "windows6.1-")) return "6.1";
  if (absl::StartsWith(lower, "windows8.1-")) return "6.3";
  return "";
}

ActionResult Fail(v1::ErrorClass cls, int code, std::string message, std::string output = "") {
  ActionResult r;
  r.outcome = v1::STEP_OUTCOME_FAILED;
  r.error_class = cls;
  r.exit_code = code;
  r.message = std::move(message);
  r.output = std::move(output);
  return r;
}

ActionResult Outcome(v1::StepOutcome outcome, std::string message) {
  ActionResult r;
  r.outcome = outcome;
  r.message = std::move(message);
  return r;
}

}  // namespace

bool VersionAtLeast(const std::string& have, const std::string& want) {
  std::vector<std::string> h = absl::StrSplit(have, '.'), w = absl::StrSplit(want, '.');
  for (size_t i = 0; i < std::max(h.size(), w.size()); ++i) {
    int a = 0, b = 0;
    if (i < h.size() && !absl::SimpleAtoi(h[i], &a)) return false;
    if (i < w.size() && !absl::SimpleAtoi(w[i], &b)) return false;
    if (a != b) return a > b;
  }
  return !have.empty();
}

absl::StatusOr<std::unique_ptr<SimWindows>> SimWindows::Open(const std::string& state_file,
                                                             const std::string& profile,
                                                             const std::string& hostname,
                                                             const v1::SimFaults* faults) {
  v1::SimMachine m;
  if (PathExists(state_file)) {
    auto text = ReadFile(state_file);
    if (!text.ok()) return text.status();
    if (!google::protobuf::TextFormat::ParseFromString(*text, &m)) {
      return absl::DataLossError(absl::StrCat("simulated machine ", state_file, " is corrupt"));
    }
  } else {
    if (profile.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("no simulated machine at ", state_file, ": name a profile to create one"));
    }
    auto made = MakeProfile(profile, hostname);
    if (!made.ok()) return made.status();
    m = *made;
  }
  if (faults != nullptr) *m.mutable_faults() = *faults;
  if (m.faults().mma_removed() && m.mma_installed()) {
    m.set_mma_installed(false);
    m.clear_workspaces();
    auto* files = m.mutable_files();
    files->erase(std::remove(files->begin(), files->end(), std::string(kMonitoringHost)),
                 files->end());
  }
  std::unique_ptr<SimWindows> sim(new SimWindows(state_file, std::move(m)));
  absl::MutexLock lock(&sim->mu_);
  sim->Recompute();
  absl::Status st = sim->Save();
  if (!st.ok()) return st;
  return sim;
}

absl::Status SimWindows::Save() {
  std::string text;
  google::protobuf::TextFormat::PrintToString(m_, &text);
  return WriteFileAtomic(path_, text, 0600);
}

v1::SimMachine SimWindows::Snapshot() {
  absl::MutexLock lock(&mu_);
  return m_;
}

bool SimWindows::HasKb(const std::string& kb) const {
  return Contains(m_.inventory().installed_kbs(), kb);
}

bool SimWindows::Sha2Supported() const {
  const auto& os = m_.inventory().os();
  bool nt61 = os.product() == v1::OS_PRODUCT_WINDOWS_7 ||
              os.product() == v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2;
  return !nt61 || HasKb("KB4474419");
}

// Services follow from what is installed, as on the real machine.
void SimWindows::Recompute() {
  v1::Inventory* inv = m_.mutable_inventory();
  inv->set_pending_reboot(m_.pending_kbs_size() > 0);
  const auto& os = inv->os();
  bool nt61 = os.product() == v1::OS_PRODUCT_WINDOWS_7 ||
              os.product() == v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2;
  bool tls12 = !nt61 || VersionAtLeast(inv->dotnet_version(), "4.5") || HasKb("KB3154518");
  bool telemetry = HasKb("KB3080149");
  FindService(inv, "healthservice")
      ->set_status(m_.mma_installed() ? v1::SERVICE_STATUS_RUNNING
                                      : v1::SERVICE_STATUS_NOT_INSTALLED);
  v1::ServiceStatus sense = v1::SERVICE_STATUS_NOT_INSTALLED;
  if (m_.mma_installed()) {
    bool defender = false;
    for (const auto& w : m_.workspaces()) defender |= w.defender();
    sense =
        defender && telemetry && tls12 ? v1::SERVICE_STATUS_RUNNING : v1::SERVICE_STATUS_STOPPED;
  }
  FindService(inv, "sense")->set_status(sense);
}

v1::Inventory SimWindows::Inventory() {
  absl::MutexLock lock(&mu_);
  return m_.inventory();
}

bool SimWindows::EvaluateLocked(const v1::Check& check) {
  switch (check.check_case()) {
    case v1::Check::kFileExists:
      return Contains(m_.files(), check.file_exists());
    case v1::Check::kKbInstalled:
      return HasKb(check.kb_installed());
    case v1::Check::kDotnetAtLeast:
      return VersionAtLeast(m_.inventory().dotnet_version(), check.dotnet_at_least());
    case v1::Check::kService:
      return FindService(m_.mutable_inventory(), check.service().name())->status() ==
             check.service().status();
    case v1::Check::kAnyOf:
      for (const auto& c : check.any_of().checks()) {
        if (EvaluateLocked(c)) return true;
      }
      return false;
    default:
      return false;
  }
}

absl::StatusOr<bool> SimWindows::Evaluate(const v1::Check& check) {
  absl::MutexLock lock(&mu_);
  return EvaluateLocked(check);
}

ActionResult SimWindows::Run(const v1::Step& step, const std::map<std::string, std::string>& params,
                             absl::Duration timeout) {
  int slow_ms = 0;
  {
    absl::MutexLock lock(&mu_);
    slow_ms = m_.faults().slow_step_ms();
    if (step.action_case() == v1::Step::kInstallUpdate &&
        Contains(m_.faults().hung_kbs(), step.install_update().kb())) {
      slow_ms = static_cast<int>(absl::ToInt64Milliseconds(timeout)) + 1;
    }
  }
  if (slow_ms > 0) {
    absl::Duration wait = std::min(absl::Milliseconds(slow_ms), timeout);
    absl::SleepFor(wait);
    if (absl::Milliseconds(slow_ms) > timeout) {
      return Fail(v1::ERROR_CLASS_TIMEOUT, 0,
                  absl::StrCat("no answer within ", absl::FormatDuration(timeout)));
    }
  }
  for (const auto& name : step.artifacts()) {
    auto it = params.find("artifact:" + name);
    if (it == params.end() || !PathExists(it->second)) {
      return Fail(v1::ERROR_CLASS_ARTIFACT, 0, absl::StrCat("package ", name, " is not staged"));
    }
  }
  absl::MutexLock lock(&mu_);
  ActionResult r;
  switch (step.action_case()) {
    case v1::Step::kInstallUpdate:
      r = InstallUpdate(step.install_update(), timeout);
      break;
    case v1::Step::kInstallPackage:
      r = InstallPackage(step.install_package(), params);
      break;
    case v1::Step::kCheckService:
    case v1::Step::kCheckFile:
    case v1::Step::kCheckConnectivity:
    case v1::Step::kCheckWorkspace:
    case v1::Step::kRequirePrerequisite:
      r = Check(step, params);
      break;
    case v1::Step::kReboot:
      r = Outcome(v1::STEP_OUTCOME_REBOOT_REQUIRED, "reboot requested by the plan");
      break;
    case v1::Step::kRunCommand:
      r = Fail(v1::ERROR_CLASS_UNSUPPORTED_ACTION, 0,
               "the simulated endpoint does not run arbitrary commands");
      break;
    default:
      r = Configure(step, params);
      break;
  }
  Recompute();
  absl::Status st = Save();
  if (!st.ok()) {
    return Fail(v1::ERROR_CLASS_AGENT, 0, absl::StrCat("saving machine state: ", st.message()));
  }
  return r;
}

ActionResult SimWindows::InstallUpdate(const v1::InstallUpdate& a, absl::Duration) {
  const auto& os = m_.inventory().os();
  ActionResult r;
  r.output = absl::StrCat("wusa.exe ", a.package(), " /quiet /norestart\n");
  std::string want = PackageNtVersion(a.package());
  std::string have = os.version().substr(0, 3);
  bool arch_ok = absl::StrContains(absl::AsciiStrToLower(a.package()),
                                   os.arch() == v1::ARCH_X64 ? "-x64" : "-x86");
  if (Contains(m_.faults().not_applicable_kbs(), a.kb()) || (!want.empty() && want != have) ||
      !arch_ok) {
    r.exit_code = kExitNotApplicable;
    r.message = absl::StrCat(a.kb(), " (", a.package(), ") does not apply to this system");
    return r;
  }
  if (HasKb(a.kb()) || Contains(m_.pending_kbs(), a.kb())) {
    r.exit_code = kExitAlreadyInstalled;
    r.message = absl::StrCat(a.kb(), " is already installed");
    return r;
  }
  if (Contains(m_.faults().failing_kbs(), a.kb())) {
    r.exit_code = kExitFatal;
    r.message = absl::StrCat(a.kb(), ": fatal error during installation (0x80070643)");
    return r;
  }
  auto* log = m_.add_install_log();
  log->set_what(a.kb());
  log->set_at_unix_ms(absl::ToUnixMillis(absl::Now()));
  if (KbNeedsReboot(a.kb())) {
    m_.add_pending_kbs(a.kb());
    r.exit_code = kExitRebootRequired;
    r.message = absl::StrCat(a.kb(), " installed; a restart is required");
  } else {
    m_.mutable_inventory()->add_installed_kbs(a.kb());
    r.exit_code = 0;
  }
  return r;
}

ActionResult SimWindows::InstallPackage(const v1::InstallPackage& a,
                                        const std::map<std::string, std::string>& params) {
  const auto& os = m_.inventory().os();
  std::vector<std::string> args;
  for (const auto& arg : a.args()) {
    auto expanded = ExpandRefs(arg, params);
    if (!expanded.ok())
      return Fail(v1::ERROR_CLASS_AGENT, 0, std::string(expanded.status().message()));
    args.push_back(*expanded);
  }
  std::string output = absl::StrCat(a.package(), " /c /t:%TEMP%\\purser\n", a.setup(), " ",
                                    absl::StrJoin(args, " "), "\n");
  bool x64_pkg = absl::StrContains(absl::AsciiStrToUpper(a.package()), "AMD64");
  if (x64_pkg != (os.arch() == v1::ARCH_X64)) {
    return Fail(v1::ERROR_CLASS_EXIT_CODE, kExitMsiFatal,
                absl::StrCat(a.package(), " is not built for this architecture"), output);
  }
  if (!Sha2Supported()) {
    return Fail(v1::ERROR_CLASS_PREREQUISITE, kExitUntrustedSignature,
                absl::StrCat(a.package(),
                             ": SHA-2 signature cannot be verified: SHA-2 code signing support "
                             "(KB4474419) is missing"),
                output);
  }
  std::string workspace_id, workspace_key;
  for (const auto& arg : args) {
    if (absl::StartsWith(arg, "OPINSIGHTS_WORKSPACE_ID=")) workspace_id = arg.substr(24);
    if (absl::StartsWith(arg, "OPINSIGHTS_WORKSPACE_KEY=")) workspace_key = arg.substr(25);
  }
  auto* log = m_.add_install_log();
  log->set_what(a.product().empty() ? a.package() : a.product());
  log->set_at_unix_ms(absl::ToUnixMillis(absl::Now()));
  m_.set_mma_installed(true);
  if (!Contains(m_.files(), kMonitoringHost)) m_.add_files(kMonitoringHost);
  if (!workspace_id.empty()) {
    bool present = false;
    for (const auto& w : m_.workspaces()) present |= w.id() == workspace_id;
    if (!present) {
      auto* w = m_.add_workspaces();
      w->set_id(workspace_id);
      w->set_key_present(!workspace_key.empty());
      w->set_defender(true);
    }
  }
  ActionResult r;
  r.exit_code = 0;
  r.output = output;
  return r;
}

ActionResult SimWindows::Check(const v1::Step& step,
                               const std::map<std::string, std::string>& params) {
  switch (step.action_case()) {
    case v1::Step::kCheckService: {
      const auto& c = step.check_service();
      v1::ServiceStatus have = FindService(m_.mutable_inventory(), c.name())->status();
      std::string state =
          absl::StrCat("sc query ", c.name(), ": ", v1::ServiceStatus_Name(have).substr(15));
      if (have == c.expect()) return Outcome(v1::STEP_OUTCOME_SUCCEEDED, state);
      if (!c.required())
        return Outcome(v1::STEP_OUTCOME_SUCCEEDED,
                       absl::StrCat(state, " (recommended, not required)"));
      return Fail(
          v1::ERROR_CLASS_CHECK_FAILED, 0,
          absl::StrCat(state, ", expected ", v1::ServiceStatus_Name(c.expect()).substr(15)));
    }
    case v1::Step::kCheckWorkspace: {
      auto id = ExpandRefs(step.check_workspace().workspace_id(), params);
      if (!id.ok()) return Fail(v1::ERROR_CLASS_AGENT, 0, std::string(id.status().message()));
      for (const auto& w : m_.workspaces()) {
        if (w.id() == *id && w.key_present()) {
          return Outcome(v1::STEP_OUTCOME_SUCCEEDED,
                         absl::StrCat("workspace ", *id, " configured"));
        }
      }
      return Fail(
          v1::ERROR_CLASS_CHECK_FAILED, 0,
          absl::StrCat("workspace ", *id, " is not configured in MMA",
                       m_.workspaces_size() > 0 ? " (it reports to other workspaces)" : ""));
    }
    case v1::Step::kCheckFile:
      if (Contains(m_.files(), step.check_file().path())) {
        return Outcome(v1::STEP_OUTCOME_SUCCEEDED,
                       absl::StrCat(step.check_file().path(), " exists"));
      }
      return Fail(v1::ERROR_CLASS_CHECK_FAILED, 0,
                  absl::StrCat(step.check_file().path(), " does not exist"));
    case v1::Step::kCheckConnectivity: {
      std::vector<std::string> urls;
      for (const auto& u : step.check_connectivity().urls()) {
        auto expanded = ExpandRefs(u, params);
        if (!expanded.ok())
          return Fail(v1::ERROR_CLASS_AGENT, 0, std::string(expanded.status().message()));
        for (auto part : absl::StrSplit(*expanded, ',', absl::SkipWhitespace())) {
          urls.emplace_back(absl::StripAsciiWhitespace(part));
        }
      }
      if (m_.faults().tls_interception()) {
        std::string proxy = m_.winhttp_proxy().empty() ? m_.mma_proxy() : m_.winhttp_proxy();
        return Fail(v1::ERROR_CLASS_TLS_INTERCEPTION, 0,
                    absl::StrCat("TLS interception detected on the path to ", urls.front(),
                                 ": the certificate is not issued by Microsoft",
                                 proxy.empty() ? "" : absl::StrCat(" (proxy ", proxy, ")"),
                                 "; exempt the Defender URLs from inspection"));
      }
      return Outcome(v1::STEP_OUTCOME_SUCCEEDED,
                     absl::StrCat(urls.size(), " URLs reachable without interception"));
    }
    case v1::Step::kRequirePrerequisite:
      if (EvaluateLocked(step.require_prerequisite().check())) {
        return Outcome(v1::STEP_OUTCOME_SUCCEEDED,
                       absl::StrCat(step.require_prerequisite().name(), " present"));
      } else {
        ActionResult r =
            Outcome(v1::STEP_OUTCOME_BLOCKED,
                    absl::StrCat("missing prerequisite: ", step.require_prerequisite().name()));
        r.error_class = v1::ERROR_CLASS_PREREQUISITE;
        return r;
      }
    default:
      return Fail(v1::ERROR_CLASS_AGENT, 0, "not a check");
  }
}

ActionResult SimWindows::Configure(const v1::Step& step,
                                   const std::map<std::string, std::string>& params) {
  switch (step.action_case()) {
    case v1::Step::kSetProxy: {
      auto proxy = ExpandRefs(step.set_proxy().proxy(), params);
      if (!proxy.ok()) return Fail(v1::ERROR_CLASS_AGENT, 0, std::string(proxy.status().message()));
      if (step.set_proxy().target() == v1::SetProxy::TARGET_MMA) {
        if (!m_.mma_installed())
          return Fail(v1::ERROR_CLASS_CHECK_FAILED, 0, "MMA is not installed");
        m_.set_mma_proxy(*proxy);
      } else {
        m_.set_winhttp_proxy(*proxy);
      }
      return Outcome(v1::STEP_OUTCOME_SUCCEEDED,
                     proxy->empty() ? "direct connection" : absl::StrCat("proxy ", *proxy));
    }
    case v1::Step::kAddWorkspace: {
      auto id = ExpandRefs(step.add_workspace().workspace_id(), params);
      auto key = ExpandRefs(step.add_workspace().workspace_key(), params);
      if (!id.ok()) return Fail(v1::ERROR_CLASS_AGENT, 0, std::string(id.status().message()));
      if (!key.ok()) return Fail(v1::ERROR_CLASS_AGENT, 0, std::string(key.status().message()));
      if (!m_.mma_installed()) return Fail(v1::ERROR_CLASS_CHECK_FAILED, 0, "MMA is not installed");
      for (const auto& w : m_.workspaces()) {
        if (w.id() == *id) {
          return Outcome(v1::STEP_OUTCOME_ALREADY_DONE,
                         absl::StrCat("workspace ", *id, " already configured"));
        }
      }
      auto* w = m_.add_workspaces();
      w->set_id(*id);
      w->set_key_present(!key->empty());
      w->set_defender(true);
      return Outcome(v1::STEP_OUTCOME_SUCCEEDED,
                     absl::StrCat("AddCloudWorkspace(", *id, "); ReloadConfiguration()"));
    }
    case v1::Step::kRemoveWorkspace: {
      auto id = ExpandRefs(step.remove_workspace().workspace_id(), params);
      if (!id.ok()) return Fail(v1::ERROR_CLASS_AGENT, 0, std::string(id.status().message()));
      if (!m_.mma_installed())
        return Outcome(v1::STEP_OUTCOME_ALREADY_DONE, "MMA is not installed");
      auto* ws = m_.mutable_workspaces();
      for (int i = 0; i < ws->size(); ++i) {
        if (ws->Get(i).id() == *id) {
          ws->DeleteSubrange(i, 1);
          return Outcome(v1::STEP_OUTCOME_SUCCEEDED,
                         absl::StrCat("RemoveCloudWorkspace(", *id, "); ReloadConfiguration()"));
        }
      }
      return Outcome(v1::STEP_OUTCOME_ALREADY_DONE,
                     absl::StrCat("workspace ", *id, " not configured"));
    }
    case v1::Step::kUninstallPackage:
      if (!m_.mma_installed()) return Outcome(v1::STEP_OUTCOME_ALREADY_DONE, "not installed");
      m_.set_mma_installed(false);
      m_.clear_workspaces();
      for (int i = 0; i < m_.files_size(); ++i) {
        if (m_.files(i) == kMonitoringHost) {
          m_.mutable_files()->DeleteSubrange(i, 1);
          break;
        }
      }
      return Outcome(v1::STEP_OUTCOME_SUCCEEDED,
                     absl::StrCat(step.uninstall_package().product(), " removed"));
    case v1::Step::kSetRegistryValue: {
      const auto& a = step.set_registry_value();
      (*m_.mutable_registry())[absl::StrCat(a.key(), "\\", a.name())] = a.value();
      return Outcome(v1::STEP_OUTCOME_SUCCEEDED,
                     absl::StrCat(a.key(), "\\", a.name(), " = ", a.value()));
    }
    default:
      return Fail(v1::ERROR_CLASS_UNSUPPORTED_ACTION, 0, "action not modelled by the simulator");
  }
}

absl::Status SimWindows::Reboot() {
  absl::MutexLock lock(&mu_);
  if (m_.faults().lose_reboot()) {
    m_.set_down(true);
    absl::Status st = Save();
    if (!st.ok()) return st;
    return absl::UnavailableError("the machine did not come back from its reboot");
  }
  m_.set_boot_count(m_.boot_count() + 1);
  for (const auto& kb : m_.pending_kbs()) m_.mutable_inventory()->add_installed_kbs(kb);
  m_.clear_pending_kbs();
  Recompute();
  return Save();
}

}  // namespace purser::client::sim
