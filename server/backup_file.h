// The backup file: one SQLite database that is the fleet database (a
// consistent snapshot taken with VACUUM INTO while the server writes) plus
// three tables holding the rest of the data directory:
//   purser_backup_meta(key, value)         format, versions, counts
//   purser_backup_files(path, mode, size, sha256)
//   purser_backup_chunks(path, seq, data)  the files' bytes, 1 MiB a row
// One file to copy; PRAGMA integrity_check covers all of it; its schema
// version is inside and readable with the sqlite3 tool; and every file it
// carries is checked against its SHA-256 before a restore touches anything.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace purser::server {

struct BackupSummary {
  std::string path;
  int64_t schema_version = 0;
  int64_t endpoints = 0;
  int64_t artifacts = 0;
  int64_t files = 0;  // besides the database, artifacts included
  int64_t bytes = 0;
  std::string sha256;  // of the backup file
  bool secrets_key_included = false;
  // One line for the operator: counts, size and hash; never key material.
  std::string Line() const;
};

// Writes a backup of `data_dir` (a server may be running on it) to `out`,
// mode 0600, atomically; refuses to replace an existing `out` unless `force`.
// The written file passes VerifyBackup before it takes the name `out`; a
// snapshot whose secrets its key does not open (a key rotation in between) is
// taken once more, then refused. `secrets_key_file` (optional) is the key the
// server uses when it is not DATA_DIR/secrets.key: the secrets are checked
// against it, and no DATA_DIR/secrets.key{,.new} is carried.
absl::StatusOr<BackupSummary> WriteBackup(const std::string& data_dir, const std::string& out,
                                          bool force, const std::string& secrets_key_file = "");

struct BackupEntry {
  std::string path;  // relative: "ca.pem", "artifacts/<sha256>"
  int mode = 0;
  int64_t size = 0;
  std::string sha256;
};
struct VerifiedBackup {
  BackupSummary summary;
  std::vector<BackupEntry> files;
};

// Checks all of `path`: a Purser backup, intact, a schema this server knows,
// the key files present with matching hashes, server.pem signed by ca.pem,
// every sealed secret opened by the secrets key it carries (or its
// secrets.key.new: the server's rule after a rotation cut short) or, when it
// carries none, by `secrets_key_file` if given. The error names the first
// thing wrong.
absl::StatusOr<VerifiedBackup> VerifyBackup(const std::string& path,
                                            const std::string& secrets_key_file = "");

// Writes the verified backup's database and files into the empty directory `dir`, fsynced.
absl::Status ExtractBackup(const VerifiedBackup& backup, const std::string& dir);

}  // namespace purser::server
