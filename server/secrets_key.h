// The secrets key on file, and its replacement without losing a secret.
//
// A rotation writes the new key beside the old one (<key file>.new), re-seals
// every secret under it in one store transaction, then renames <key>.new
// over the key file. A crash before the transaction commits leaves the old
// key opening every secret; after it, the new one. The next start keeps
// whichever opens them and finishes or undoes the swap (RecoverSecretsKey).
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "db/store.h"

namespace purser::server {

inline std::string PendingKeyPath(const std::string& key_path) { return key_path + ".new"; }

// Reads a secrets key file: the owner's alone (data_dir.h), 32 bytes. The
// key itself never appears in an error.
absl::StatusOr<std::string> ReadSecretsKey(const std::string& path);
// Whether `key` opens every stored secret (true when there are none).
bool OpensAllSecrets(const std::string& key, db::Store* store);

// FAILED_PRECONDITION naming the file when the key cannot be replaced where
// it is: a read-only file (a systemd credential) or directory. The message
// says how to rotate offline instead.
absl::Status CheckKeyReplaceable(const std::string& key_path);
// The rotation's steps, in order: a fresh key written to <key>.new (never
// over an existing one, which may be the only copy of the live key:
// FAILED_PRECONDITION until a restart finishes that rotation); every
// secret re-sealed from the old key to it (one transaction); the rename.
absl::StatusOr<std::string> WritePendingKey(const std::string& key_path);
absl::StatusOr<int> ResealAll(db::Store* store, const std::string& old_key,
                              const std::string& new_key, int64_t now_ms);
absl::Status CommitPendingKey(const std::string& key_path);

// At start, after the store is open: when <key>.new is there a rotation was
// cut short. If the new key opens every secret the transaction committed, so
// the rename is finished; otherwise the old key must open them and <key>.new
// is removed. Returns the key that opens the secrets.
absl::StatusOr<std::string> RecoverSecretsKey(const std::string& key_path, const std::string& key,
                                              db::Store* store);

}  // namespace purser::server
