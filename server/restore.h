// Restores a data directory from a backup file: everything is checked
// first; the new directory is built beside the old one, fsynced, and swapped
// in with one rename. The old directory is kept as
// <dir>.before-restore-<time>-XXXXXX (unless it was empty or absent): a restore
// never deletes the operator's data. Refused while a server runs on <dir>.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "server/backup_file.h"

namespace purser::server {

struct RestoreResult {
  BackupSummary backup;
  std::string moved_aside;  // where the old data directory went; empty if none
};

// Without `force`, a data directory that holds anything is left alone.
// `secrets_key_file` (optional): for a backup without secrets.key, the key
// its secrets are checked against (see VerifyBackup).
absl::StatusOr<RestoreResult> RestoreDataDir(const std::string& from, const std::string& dir,
                                             bool force, const std::string& secrets_key_file = "");

}  // namespace purser::server
