// The simulated Windows endpoint: an in-process model of one Windows 7 / 8.1 /
// 2008 R2 machine (KBs, .NET, files, services, MMA and its workspaces, proxy,
// registry, pending reboot) that carries out typed actions the way Windows
// would, with Windows' exit codes and injected faults. Its state lives in one
// file, rewritten atomically after every change, so it survives an agent
// restart (or a SIGKILL) exactly as a disk would.
#pragma once
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "client/executor.h"
#include "purser/v1/simulated.pb.h"

namespace purser::client::sim {

inline constexpr char kMonitoringHost[] =
    "C:\\Program Files\\Microsoft Monitoring Agent\\Agent\\MonitoringHost.exe";

// Windows exit codes the simulator returns.
inline constexpr int kExitRebootRequired = 3010;
inline constexpr int kExitAlreadyInstalled = 2359302;        // 0x00240006
inline constexpr int kExitNotApplicable = -2145124329;       // 0x80240017
inline constexpr int kExitFatal = -2147023293;               // 0x80070643 fatal install error
inline constexpr int kExitUntrustedSignature = -2146762487;  // 0x800B0109
inline constexpr int kExitMsiFatal = 1603;

class SimWindows : public Executor {
 public:
  // Loads the machine from `state_file`, or creates it from `profile` when
  // the file does not exist. `faults`, when given, replace the stored ones.
  static absl::StatusOr<std::unique_ptr<SimWindows>> Open(const std::string& state_file,
                                                          const std::string& profile,
                                                          const std::string& hostname,
                                                          const v1::SimFaults* faults);

  v1::Inventory Inventory() override;
  absl::StatusOr<bool> Evaluate(const v1::Check& check) override;
  ActionResult Run(const v1::Step& step, const std::map<std::string, std::string>& params,
                   absl::Duration timeout) override;
  absl::Status Reboot() override;

  v1::SimMachine Snapshot();

 private:
  SimWindows(std::string path, v1::SimMachine m) : path_(std::move(path)), m_(std::move(m)) {}
  absl::Status Save() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Recompute() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Sha2Supported() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasKb(const std::string& kb) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool EvaluateLocked(const v1::Check& check) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ActionResult InstallUpdate(const v1::InstallUpdate& a, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ActionResult InstallPackage(const v1::InstallPackage& a,
                              const std::map<std::string, std::string>& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ActionResult Check(const v1::Step& step, const std::map<std::string, std::string>& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ActionResult Configure(const v1::Step& step, const std::map<std::string, std::string>& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  absl::Mutex mu_;
  v1::SimMachine m_ ABSL_GUARDED_BY(mu_);
};

// Compares dotted versions numerically: "4.5.2" >= "4.5".
bool VersionAtLeast(const std::string& have, const std::string& want);

}  // namespace purser::client::sim
