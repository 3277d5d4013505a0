#include "server/server_cert.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "shared/files.h"
#include "shared/logging.h"
#include "shared/status_macros.h"

namespace purser::server {
namespace {

void AddMissing(const std::string& name, std::vector<std::string>* names) {
  if (std::find(names->begin(), names->end(), name) == names->end()) names->push_back(name);
}

// The certificates after the first in `pem`, re-encoded: comparable.
std::vector<std::string> ChainOf(const std::string& pem) {
  auto certs = SplitCerts(pem);
  if (!certs.ok() || certs->empty()) return {};
  return std::vector<std::string>(certs->begin() + 1, certs->end());
}

// All the certificates of `pem`, re-encoded; none for "".
std::vector<std::string> CertsOf(const std::string& pem) {
  if (pem.empty()) return {};
  auto certs = SplitCerts(pem);
  return certs.ok() ? *certs : std::vector<std::string>();
}

}  // namespace

ServerCertificate::ServerCertificate(DataDir dir, int64_t lifetime_seconds,
                                     int64_t renew_before_seconds,
                                     std::vector<std::string> extra_names, const Clock* clock)
    : dir_(std::move(dir)),
      lifetime_seconds_(lifetime_seconds),
      renew_before_seconds_(renew_before_seconds > 0 ? renew_before_seconds : lifetime_seconds / 3),
      extra_names_(std::move(extra_names)),
      clock_(clock) {
  absl::MutexLock lock(&mu_);
  pem_ = dir_.server_cert_pem;
  if (auto info = ParseCert(pem_); info.ok()) info_ = *info;
}

absl::Status ServerCertificate::CheckLifetime(int64_t lifetime_seconds,
                                              int64_t renew_before_seconds) {
  if (lifetime_seconds < 60) {
    return absl::InvalidArgumentError("--server_cert_seconds: must be at least 60");
  }
  if (renew_before_seconds < 0 || renew_before_seconds >= lifetime_seconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("--server_cert_renew_before: must be between 0 (a third of the lifetime) and "
                     "--server_cert_seconds (",
                     lifetime_seconds, "), or a renewed certificate would be due at once"));
  }
  return absl::OkStatus();
}

int64_t ServerCertificate::check_every_seconds() const {
  return std::clamp<int64_t>(renew_before_seconds_ / 10, 1, 60);
}

CertInfo ServerCertificate::current() const {
  absl::MutexLock lock(&mu_);
  return info_;
}

absl::StatusOr<bool> ServerCertificate::RenewIfDue() {
  absl::MutexLock lock(&mu_);
  int64_t now = clock_->NowMs();
  bool due = info_.not_after_ms - now < renew_before_seconds_ * 1000;
  bool chain_changed = ChainOf(pem_) != CertsOf(dir_.intermediates_pem);
  if (!due && !chain_changed) return false;
  std::vector<std::string> dns = info_.dns_names, ips = info_.ip_addresses;
  for (const auto& n : extra_names_) AddMissing(n, IsIpAddress(n) ? &ips : &dns);
  ASSIGN_OR_RETURN(std::string pem,
                   IssueServerCert(dir_, dir_.server_key_pem, dns, ips, lifetime_seconds_, now));
  ASSIGN_OR_RETURN(CertInfo info, ParseCert(pem));
  RETURN_IF_ERROR(WriteFileAtomic(dir_.server_cert_path(), pem, 0644));
  LogInfo("renewed the server certificate: serial %s, valid until %s (was %s, until %s)",
          info.serial_hex, absl::FormatTime(absl::FromUnixMillis(info.not_after_ms)),
          info_.serial_hex, absl::FormatTime(absl::FromUnixMillis(info_.not_after_ms)));
  pem_ = std::move(pem);
  info_ = std::move(info);
  return true;
}

}  // namespace purser::server
