// An exclusive lock on a directory (flock on <dir>/.lock), held for the
// holder's lifetime: one server per data directory, and no restore under a
// running server. The kernel releases it when the process dies.
#pragma once
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace purser {

class DirLock {
 public:
  static constexpr char kFileName[] = ".lock";
  // Takes the lock without waiting; FAILED_PRECONDITION naming the directory
  // when another process holds it. `dir` must exist.
  static absl::StatusOr<std::unique_ptr<DirLock>> Acquire(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace purser
