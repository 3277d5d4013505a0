// File helpers: whole-file reads and crash-safe writes (temp file, fsync, rename).
#pragma once
#include <string>

#include "absl/status/statusor.h"

namespace purser {

absl::StatusOr<std::string> ReadFile(const std::string& path);
// Writes `data` to `path` atomically with permissions `mode`; survives a crash
// at any point (the old or the new content, never a mix).
absl::Status WriteFileAtomic(const std::string& path, const std::string& data, int mode = 0644);
// Makes a rename or creation of `path` durable: fsyncs its directory.
absl::Status SyncParentDir(const std::string& path);
bool PathExists(const std::string& path);
// The permission bits of `path` (e.g. 0600).
absl::StatusOr<int> FileMode(const std::string& path);
// mkdir -p with `mode` for directories it creates.
absl::Status MakeDirs(const std::string& path, int mode = 0755);

}  // namespace purser
