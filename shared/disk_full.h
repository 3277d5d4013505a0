// A full disk is an operator's problem, not a bug: writes are refused with
// RESOURCE_EXHAUSTED "disk full: <dir>" and the log says so once, reminds at
// most every minute, and says when writes succeed again.
#pragma once
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "shared/clock.h"

namespace purser {

// RESOURCE_EXHAUSTED "disk full: <dir> (<detail>)".
absl::Status DiskFullError(const std::string& dir, const std::string& detail);
// True for statuses made by DiskFullError (also when a caller prefixed the message).
bool IsDiskFull(const absl::Status& status);
// The directory holding `path` ("." when it has none).
std::string DirOf(const std::string& path);

// Rate-limited log lines about one directory's disk. Thread-safe.
class DiskFullLog {
 public:
  explicit DiskFullLog(std::string dir, const Clock* clock = RealClock::Get(),
                       int64_t remind_every_ms = 60'000)
      : dir_(std::move(dir)), clock_(clock), remind_every_ms_(remind_every_ms) {}

  // `writes` were refused for lack of space.
  void Refused(int writes = 1);
  // A write that changed something committed: space is back (if it was gone).
  void Succeeded();
  bool full() const;

 private:
  const std::string dir_;
  const Clock* clock_;
  const int64_t remind_every_ms_;
  mutable absl::Mutex mu_;
  bool announced_ ABSL_GUARDED_BY(mu_) = false;  // the log says "full" right now
  int64_t last_line_ms_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t refused_ ABSL_GUARDED_BY(mu_) = 0;  // since the last line
};

}  // namespace purser
