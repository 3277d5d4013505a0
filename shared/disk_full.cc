#include "shared/disk_full.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "shared/logging.h"

namespace purser {

absl::Status DiskFullError(const std::string& dir, const std::string& detail) {
  return absl::ResourceExhaustedError(absl::StrCat("disk full: ", dir, " (", detail, ")"));
}

bool IsDiskFull(const absl::Status& status) {
  return status.code() == absl::StatusCode::kResourceExhausted &&
         absl::StrContains(status.message(), "disk full: ");
}

std::string DirOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void DiskFullLog::Refused(int writes) {
  absl::MutexLock lock(&mu_);
  int64_t now = clock_->NowMs();
  refused_ += writes;
  // A disk that flaps between full and not is announced at most once a minute.
  bool quiet = last_line_ms_ >= 0 && now - last_line_ms_ < remind_every_ms_;
  if (quiet) return;
  if (!announced_) {
    LogError(
        "disk full: %s: writes are refused (RESOURCE_EXHAUSTED) until space is freed; the "
        "database stays intact and the server carries on by itself",
        dir_);
  } else {
    LogError("disk full: %s: still full, %d writes refused in the last %d s", dir_, refused_,
             static_cast<int>((now - last_line_ms_) / 1000));
  }
  announced_ = true;
  last_line_ms_ = now;
  refused_ = 0;
}

void DiskFullLog::Succeeded() {
  absl::MutexLock lock(&mu_);
  if (!announced_) return;
  LogInfo("disk space is back on %s: writes succeed again (%d refused since the last line)", dir_,
          refused_);
  announced_ = false;
  refused_ = 0;
}

bool DiskFullLog::full() const {
  absl::MutexLock lock(&mu_);
  return announced_;
}

}  // namespace purser
