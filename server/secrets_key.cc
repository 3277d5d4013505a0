#include "server/secrets_key.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/data_dir.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/logging.h"
#include "shared/status_macros.h"

namespace purser::server {
namespace {

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

absl::StatusOr<std::string> ReadSecretsKey(const std::string& path) {
  RETURN_IF_ERROR(CheckPrivateFile(path, "secrets key file"));
  ASSIGN_OR_RETURN(std::string key, ReadFile(path));
  if (key.size() != 32) {
    return absl::FailedPreconditionError(
        absl::StrCat("secrets key file ", path, " must hold 32 bytes, has ", key.size()));
  }
  return key;
}

bool OpensAllSecrets(const std::string& key, db::Store* store) {
  auto names = store->ListSecretNames();
  if (!names.ok()) return false;
  for (const auto& name : *names) {
    auto sealed = store->GetSealedSecret(name);
    if (!sealed.ok() || !Open(key, *sealed, name).ok()) return false;
  }
  return true;
}

absl::Status CheckKeyReplaceable(const std::string& key_path) {
  ASSIGN_OR_RETURN(int mode, FileMode(key_path));
  std::string dir = DirOf(key_path);
  if ((mode & 0200) == 0 || ::access(dir.c_str(), W_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the secrets key file ", key_path,
        " is read-only (a systemd credential?), so it cannot be replaced in place. Rotate offline: "
        "stop the server, run `purser-server rotate-secrets-key --data_dir=DIR --secrets_key_file=",
        key_path,
        " --new_key_file=NEW`, make NEW the server's key (e.g. the file LoadCredential= names) "
        "and start the server again"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> WritePendingKey(const std::string& key_path) {
  std::string pending = PendingKeyPath(key_path);
  absl::Status unfinished = absl::FailedPreconditionError(absl::StrCat(
      pending,
      " is there: a previous secrets key rotation is unfinished and that file may be the only "
      "copy of the key that opens the secrets. Restart the server to complete it, then rotate "
      "again"));
  if (PathExists(pending)) return unfinished;
  // Written whole under a name of its own, then linked to <key>.new, which
  // fails if the name exists: never a torn key, never one overwritten.
  std::string key = RandomBytes(32);
  std::string staged = absl::StrCat(pending, ".staged");
  RETURN_IF_ERROR(WriteFileAtomic(staged, key, 0600));
  int linked = ::link(staged.c_str(), pending.c_str());
  int link_errno = errno;
  ::unlink(staged.c_str());
  if (linked != 0) {
    if (link_errno == EEXIST) return unfinished;
    return absl::InternalError(
        absl::StrCat("cannot create ", pending, ": ", std::strerror(link_errno)));
  }
  RETURN_IF_ERROR(SyncParentDir(pending));
  return key;
}

absl::StatusOr<int> ResealAll(db::Store* store, const std::string& old_key,
                              const std::string& new_key, int64_t now_ms) {
  return store->ResealSecrets(
      [&](const std::string& name, const std::string& sealed) -> absl::StatusOr<std::string> {
        auto value = Open(old_key, sealed, name);
        if (!value.ok()) {
          return absl::DataLossError(absl::StrCat(
              "secret \"", name, "\" does not open with the current key: nothing was re-sealed"));
        }
        return Seal(new_key, *value, name);
      },
      now_ms);
}

absl::Status CommitPendingKey(const std::string& key_path) {
  std::string pending = PendingKeyPath(key_path);
  if (std::rename(pending.c_str(), key_path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", pending, " to ", key_path));
  }
  return SyncParentDir(key_path);
}

absl::StatusOr<std::string> RecoverSecretsKey(const std::string& key_path, const std::string& key,
                                              db::Store* store) {
  std::string pending = PendingKeyPath(key_path);
  if (!PathExists(pending)) return key;
  ASSIGN_OR_RETURN(std::string new_key, ReadSecretsKey(pending));
  if (OpensAllSecrets(new_key, store)) {
    RETURN_IF_ERROR(CommitPendingKey(key_path));
    LogInfo("finished a secrets key rotation that was cut short: %s is the new key", key_path);
    return new_key;
  }
  if (!OpensAllSecrets(key, store)) {
    return absl::DataLossError(absl::StrCat("neither ", key_path, " nor ", pending,
                                            " opens every stored secret: restore the key file "
                                            "that goes with this database"));
  }
  if (::unlink(pending.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot remove ", pending));
  }
  RETURN_IF_ERROR(SyncParentDir(pending));
  LogInfo("undid a secrets key rotation that was cut short before any secret was re-sealed");
  return key;
}

}  // namespace purser::server
