#include "server/key_commands.h"

#include <iostream>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "db/sqlite/sqlite_store.h"
#include "server/command_flags.h"
#include "server/data_dir.h"
#include "server/secrets_key.h"
#include "shared/clock.h"
#include "shared/crypto.h"
#include "shared/dir_lock.h"
#include "shared/files.h"
#include "shared/status_macros.h"
#include "shared/x509.h"

namespace purser::server {
namespace {

absl::Status Init(const std::string& dir, const DataDirOptions& options) {
  if (!PathExists(dir)) RETURN_IF_ERROR(CheckNoUnfinishedRestore(dir));  // nothing left behind
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  ASSIGN_OR_RETURN(auto lock, DirLock::Acquire(dir));  // no server starting on it meanwhile
  RETURN_IF_ERROR(InitDataDir(dir, options));
  ASSIGN_OR_RETURN(auto store, db::SqliteStore::Open(dir + "/purser.db", true));
  // Checked the way a server opens it.
  RETURN_IF_ERROR(OpenOrInitDataDir(dir, options).status());
  // The first admin's certificate is listed and revocable like any other.
  ASSIGN_OR_RETURN(std::string admin_pem, ReadFile(dir + "/admin.pem"));
  ASSIGN_OR_RETURN(CertInfo admin, ParseCert(admin_pem));
  return store->RecordCert({admin.serial_hex, admin.common_name, admin.organizational_unit,
                            RealClock::Get()->NowMs(), admin.not_after_ms, 0});
}

// Re-seals every secret of the stopped server's database under the key in
// `new_path` (made when missing). Idempotent: run again after a crash, it
// finds the secrets under the old key (the transaction did not commit) or
// under the new one (it did).
absl::StatusOr<int> RotateOffline(const std::string& dir, const std::string& key_path,
                                  const std::string& new_path) {
  ASSIGN_OR_RETURN(auto lock, DirLock::Acquire(dir));  // the server must be stopped
  if (PathExists(PendingKeyPath(key_path))) {
    return absl::FailedPreconditionError(
        absl::StrCat(PendingKeyPath(key_path),
                     " is there: a rotation by the server was cut "
                     "short; start the server once to finish it first"));
  }
  ASSIGN_OR_RETURN(std::string old_key, ReadSecretsKey(key_path));
  std::string db_path = dir + "/purser.db";
  if (!PathExists(db_path)) {
    return absl::FailedPreconditionError(absl::StrCat("no database ", db_path));
  }
  ASSIGN_OR_RETURN(auto store, db::SqliteStore::Open(db_path, false));
  std::string new_key;
  if (PathExists(new_path)) {
    ASSIGN_OR_RETURN(new_key, ReadSecretsKey(new_path));
    if (new_key == old_key) {
      return absl::InvalidArgumentError("--new_key_file holds the same key as --secrets_key_file");
    }
    if (OpensAllSecrets(new_key, store.get()) && !OpensAllSecrets(old_key, store.get())) {
      return 0;  // done before
    }
  } else {
    new_key = RandomBytes(32);
    RETURN_IF_ERROR(WriteFileAtomic(new_path, new_key, 0600));
  }
  return ResealAll(store.get(), old_key, new_key, RealClock::Get()->NowMs());
}

}  // namespace

int RunInitCommand(int argc, char** argv) {
  const std::vector<FlagSpec> specs = {
      {"data_dir", "the data directory to make (missing or empty)"},
      {"ca-from",
       "a directory with intermediate.pem, intermediate.key and root.pem: issue with that "
       "intermediate, agents trust the root (docs/key-custody.md); default: a new self-signed CA"},
      {"names", "extra DNS names/IPs for the server certificate (comma-separated)"},
      {"secrets_key_file",
       "where the secrets key is (made there, mode 0600, when missing); default: "
       "DATA_DIR/secrets.key"},
      {"server_cert_seconds", "lifetime of the server certificate"},
  };
  std::map<std::string, std::string> flags;
  int code = ParseCommand(argc, argv,
                          "purser-server init --data_dir=DIR [--ca-from=DIR] [--names=N,...] "
                          "[--secrets_key_file=FILE]",
                          specs, {"data_dir"}, &flags);
  if (code >= 0) return code;
  DataDirOptions options;
  options.ca_from = flags["ca-from"];
  options.secrets_key_file = flags["secrets_key_file"];
  options.extra_names = absl::StrSplit(flags["names"], ',', absl::SkipEmpty());
  if (!flags["server_cert_seconds"].empty() &&
      (!absl::SimpleAtoi(flags["server_cert_seconds"], &options.server_cert_seconds) ||
       options.server_cert_seconds < 60)) {
    std::cerr << "purser-server init: --server_cert_seconds: a number of seconds, at least 60\n";
    return 2;
  }
  if (absl::Status st = Init(flags["data_dir"], options); !st.ok()) {
    std::cerr << "purser-server init: " << st.message() << "\n";
    return 1;
  }
  std::string dir = flags["data_dir"];
  std::cout << "initialised " << dir << "\n"
            << "  agents and operators trust " << dir << "/ca.pem"
            << (options.ca_from.empty() ? " (a new self-signed CA)"
                                        : " (the root; the intermediate issues)")
            << "\n  the first administrator's certificate: " << dir << "/admin.pem, " << dir
            << "/admin.key\n  the secrets key: "
            << (options.secrets_key_file.empty() ? dir + "/secrets.key" : options.secrets_key_file)
            << "\n";
  return 0;
}

int RunRotateSecretsKeyCommand(int argc, char** argv) {
  const std::vector<FlagSpec> specs = {
      {"data_dir", "the stopped server's data directory"},
      {"secrets_key_file", "the current key; default: DATA_DIR/secrets.key"},
      {"new_key_file",
       "where the new key goes (made, mode 0600, when missing; an existing one is used)"},
  };
  std::map<std::string, std::string> flags;
  int code =
      ParseCommand(argc, argv,
                   "purser-server rotate-secrets-key --data_dir=DIR [--secrets_key_file=FILE] "
                   "--new_key_file=FILE",
                   specs, {"data_dir", "new_key_file"}, &flags);
  if (code >= 0) return code;
  std::string key_path = flags["secrets_key_file"].empty() ? flags["data_dir"] + "/secrets.key"
                                                           : flags["secrets_key_file"];
  auto count = RotateOffline(flags["data_dir"], key_path, flags["new_key_file"]);
  if (!count.ok()) {
    std::cerr << "purser-server rotate-secrets-key: " << count.status().message() << "\n";
    return 1;
  }
  std::cout << "re-sealed " << *count << " secrets under the key in " << flags["new_key_file"]
            << "\nnext: make it the server's key (the file --secrets_key_file or LoadCredential= "
               "names), start the server, then destroy "
            << key_path << ": it no longer opens them\n";
  return 0;
}

}  // namespace purser::server
