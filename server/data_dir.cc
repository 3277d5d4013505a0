#include "server/data_dir.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/ca.h"
#include "shared/crypto.h"
#include "shared/dir_lock.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/logging.h"
#include "shared/status_macros.h"
#include "shared/x509.h"

namespace purser::server {
namespace {

constexpr char kCaCert[] = "ca.pem";
constexpr char kCaKey[] = "ca.key";
constexpr char kServerCert[] = "server.pem";
constexpr char kServerKey[] = "server.key";
constexpr char kSecretsKey[] = "secrets.key";
constexpr char kCaChain[] = "ca-chain.pem";
constexpr char kAdminCert[] = "admin.pem";
constexpr char kAdminKey[] = "admin.key";
constexpr char kDb[] = "purser.db";

// Keys, and the directory holding them, must be the owner's alone: a key that
// others could read has to be assumed copied.
absl::Status CheckPrivate(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read ", what, " ", path));
  }
  int mode = static_cast<int>(st.st_mode & 07777);
  if ((mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s %s has mode %04o: others than its owner can read or change it (chmod %s %s; if it "
        "may have been copied, replace it)",
        what, path, mode, what == "data directory" ? "700" : "600", path));
  }
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s %s belongs to user id %d, not to the server's (%d): chown it to the user the server "
        "runs as",
        what, path, static_cast<int>(st.st_uid), static_cast<int>(::geteuid())));
  }
  return absl::OkStatus();
}

std::string SecretsKeyPath(const std::string& dir, const DataDirOptions& o) {
  return o.secrets_key_file.empty() ? absl::StrCat(dir, "/", kSecretsKey) : o.secrets_key_file;
}

// The issuing CA from `from` (purser-server init --ca-from): an intermediate
// that can sign, whose key is the one given, chaining to root.pem today.
struct ImportedCa {
  std::string issuer_pem;  // intermediate.pem as given
  std::string key_pem;
  std::string root_pem;
};

absl::StatusOr<ImportedCa> ImportCa(const std::string& from) {
  ImportedCa ca;
  std::string cert_path = absl::StrCat(from, "/intermediate.pem");
  std::string key_path = absl::StrCat(from, "/intermediate.key");
  std::string root_path = absl::StrCat(from, "/root.pem");
  auto read = [&](const std::string& path) -> absl::StatusOr<std::string> {
    auto content = ReadFile(path);
    if (!content.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--ca-from ", from, ": ", content.status().message(),
          " (the directory must hold intermediate.pem, intermediate.key and root.pem)"));
    }
    return content;
  };
  ASSIGN_OR_RETURN(ca.issuer_pem, read(cert_path));
  ASSIGN_OR_RETURN(ca.key_pem, read(key_path));
  ASSIGN_OR_RETURN(ca.root_pem, read(root_path));
  RETURN_IF_ERROR(CheckPrivate(key_path, "key file"));
  auto bad = [](const std::string& path, absl::string_view why) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": ", why));
  };
  auto info = ParseCert(ca.issuer_pem);
  if (!info.ok()) return bad(cert_path, info.status().message());
  if (!info->is_ca) {
    return bad(cert_path,
               "is not a CA certificate (it needs basicConstraints critical,CA:TRUE; see "
               "docs/key-custody.md)");
  }
  if (!info->can_sign_certs) {
    return bad(cert_path,
               "may not sign certificates (it needs keyUsage critical,keyCertSign,cRLSign; see "
               "docs/key-custody.md)");
  }
  if (!CheckKeyMatchesCert(ca.key_pem, ca.issuer_pem).ok()) {
    return bad(key_path, absl::StrCat("is not the private key of ", cert_path));
  }
  auto roots = SplitCerts(ca.root_pem);
  if (!roots.ok()) return bad(root_path, roots.status().message());
  for (const auto& r : *roots) {
    auto root = ParseCert(r);
    if (!root.ok() || !root->is_ca) return bad(root_path, "holds a certificate that is not a CA");
  }
  if (auto st = VerifyCert(ca.issuer_pem, ca.root_pem); !st.ok()) {
    return bad(cert_path, absl::StrCat("does not chain to ", root_path, " today: ", st.message(),
                                       " (expired, not yet valid, or issued by another root)"));
  }
  int64_t now_ms = absl::ToUnixMillis(absl::Now());
  if (info->not_after_ms - now_ms < kOperatorCertSeconds * 1000) {
    LogWarning(
        "%s expires at %s, within a year: certificates issued before then stop verifying "
        "at that time; renew it (docs/key-custody.md)",
        cert_path, absl::FormatTime(absl::FromUnixMillis(info->not_after_ms)));
  }
  return ca;
}

absl::Status Init(const std::string& dir, const DataDirOptions& o) {
  RETURN_IF_ERROR(CheckNoUnfinishedRestore(dir));  // the server's first start and `init`
  std::optional<ImportedCa> imported;
  if (!o.ca_from.empty()) {  // checked before anything is written
    ASSIGN_OR_RETURN(imported, ImportCa(o.ca_from));
  }
  std::string secrets_path = SecretsKeyPath(dir, o);
  bool make_secrets_key = !PathExists(secrets_path);
  if (!make_secrets_key) {  // provided beforehand, e.g. a systemd credential
    RETURN_IF_ERROR(CheckPrivate(secrets_path, "secrets key file"));
  }
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  if (::chmod(dir.c_str(), 0700) != 0) {  // an empty directory made for us is ours now
    return absl::PermissionDeniedError(absl::StrCat("cannot make ", dir, " private (chmod 700)"));
  }
  DataDir d;
  d.dir = dir;
  if (imported) {
    d.ca_cert_pem = imported->root_pem;
    d.issuer_cert_pem = imported->issuer_pem;
    d.chain_pem = absl::StrCat(imported->issuer_pem, imported->root_pem);
    d.intermediates_pem = imported->issuer_pem;
    d.ca_key_pem = imported->key_pem;
  } else {
    ASSIGN_OR_RETURN(d.ca_key_pem, GenerateKeyPem());
    CertSpec ca_spec{"Purser CA", "", 10LL * 365 * 24 * 3600, true, {}, {}};
    ASSIGN_OR_RETURN(IssuedCert ca, MakeSelfSignedCa(d.ca_key_pem, ca_spec));
    d.ca_cert_pem = d.issuer_cert_pem = ca.pem;
  }
  ASSIGN_OR_RETURN(std::string server_key, GenerateKeyPem());
  std::vector<std::string> dns = {kServerName, "localhost"}, ips = {"127.0.0.1", "::1"};
  for (const auto& n : o.extra_names) (IsIpAddress(n) ? ips : dns).push_back(n);
  ASSIGN_OR_RETURN(std::string server_pem,
                   IssueServerCert(d, server_key, dns, ips, o.server_cert_seconds));
  // The first admin: written only where its owner can read it.
  ASSIGN_OR_RETURN(std::string admin_key, GenerateKeyPem());
  ASSIGN_OR_RETURN(std::string admin_pub, PublicKeyDerOfKey(admin_key));
  CertificateAuthority authority(d.issuer_cert_pem, d.ca_key_pem, d.ca_cert_pem,
                                 d.intermediates_pem);
  ASSIGN_OR_RETURN(IssuedCert admin,
                   authority.IssueOperator(admin_pub, "admin", "admin", kOperatorCertSeconds));
  // Keys first, the CA certificate last: a crash mid-way leaves an incomplete
  // directory that the next start reports by the missing file's name.
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kCaKey), d.ca_key_pem, 0600));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kServerKey), server_key, 0600));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kServerCert), server_pem, 0644));
  if (make_secrets_key) {
    RETURN_IF_ERROR(WriteFileAtomic(secrets_path, RandomBytes(32), 0600));
  }
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kAdminKey), admin_key, 0600));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kAdminCert), admin.pem, 0600));
  if (imported) {
    RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kCaChain), d.chain_pem, 0644));
  }
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kCaCert), d.ca_cert_pem, 0644));
  return absl::OkStatus();
}

absl::StatusOr<std::string> FirstCert(const std::string& pem) {
  ASSIGN_OR_RETURN(std::vector<std::string> certs, SplitCerts(pem));
  return certs.front();
}

absl::StatusOr<std::string> Need(const std::string& dir, const char* name) {
  std::string path = absl::StrCat(dir, "/", name);
  auto content = ReadFile(path);
  if (!content.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", dir, " is incomplete or damaged: ", content.status().message(),
        " (restore it from backup, or start with an empty directory to initialise a new one)"));
  }
  return content;
}

}  // namespace

bool IsEmptyDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && n != DirLock::kFileName) empty = false;  // the server's lock
  }
  ::closedir(d);
  return empty;
}

// A restore cut short leaves `<dir>.restore-tmp-*` beside `dir` (see
// server/restore.cc): a new data directory there would hide the restored one.
absl::Status CheckNoUnfinishedRestore(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  size_t slash = dir.find_last_of('/');
  std::string parent = slash == std::string::npos ? "." : dir.substr(0, std::max<size_t>(slash, 1));
  std::string prefix =
      absl::StrCat(slash == std::string::npos ? dir : dir.substr(slash + 1), ".restore-tmp-");
  DIR* d = ::opendir(parent.c_str());
  if (d == nullptr) return absl::OkStatus();
  std::string found;
  while (dirent* e = ::readdir(d)) {
    if (absl::StartsWith(e->d_name, prefix)) found = absl::StrCat(parent, "/", e->d_name);
  }
  ::closedir(d);
  if (found.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "refusing to create a new data directory ", dir, ": ", found,
      " is left by a restore that was cut short. Run the restore again, or finish it with "
      "`mv -T ",
      found, " ", dir, "` (check any ", dir, ".before-restore-* for the previous data), or remove ",
      found, " to start with a new, empty data directory"));
}

bool IsIpAddress(const std::string& name) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, name.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

absl::Status CheckPrivateFile(const std::string& path, const std::string& what) {
  return CheckPrivate(path, what);
}

absl::Status CheckDataDirCerts(const std::string& ca_pem, const std::string& chain_pem,
                               const std::string& ca_key_pem, const std::string& server_pem) {
  std::string issuer = ca_pem;
  if (!chain_pem.empty()) {
    if (auto st = VerifyCert(chain_pem, ca_pem, kAnyTime); !st.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(kCaChain, " does not chain to ", kCaCert, ": ", st.message()));
    }
    ASSIGN_OR_RETURN(issuer, FirstCert(chain_pem));
  }
  if (!CheckKeyMatchesCert(ca_key_pem, issuer).ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        kCaKey, " is not the key of ", chain_pem.empty() ? kCaCert : "the first certificate of ",
        chain_pem.empty() ? "" : kCaChain));
  }
  // Dates aside: an expired server certificate is renewed at start.
  if (auto st = VerifyCert(server_pem, ca_pem, kAnyTime); !st.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kServerCert, " is not signed by ", kCaCert, " (", st.message(), ")"));
  }
  return absl::OkStatus();
}

std::string DataDir::client_trust_path() const {
  return absl::StrCat(dir, "/", chain_pem.empty() ? kCaCert : kCaChain);
}

absl::StatusOr<std::string> IssueServerCert(const DataDir& dir, const std::string& server_key_pem,
                                            const std::vector<std::string>& dns_names,
                                            const std::vector<std::string>& ip_addresses,
                                            int64_t validity_seconds, int64_t now_ms) {
  ASSIGN_OR_RETURN(std::string pub, PublicKeyDerOfKey(server_key_pem));
  CertSpec spec{kServerName, "server", validity_seconds, false, dns_names, ip_addresses, now_ms};
  ASSIGN_OR_RETURN(IssuedCert cert, IssueCert(dir.ca_key_pem, dir.issuer_cert_pem, pub, spec));
  return absl::StrCat(cert.pem, dir.intermediates_pem);
}

absl::Status InitDataDir(const std::string& dir, const DataDirOptions& options) {
  if (PathExists(dir) && !IsEmptyDir(dir)) {
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", dir,
                     " is not empty: init only makes a new one (give an empty or "
                     "missing directory)"));
  }
  return Init(dir, options);
}

absl::StatusOr<DataDir> OpenOrInitDataDir(const std::string& dir,
                                          const std::vector<std::string>& extra_names) {
  DataDirOptions options;
  options.extra_names = extra_names;
  return OpenOrInitDataDir(dir, options);
}

absl::StatusOr<DataDir> OpenOrInitDataDir(const std::string& dir, const DataDirOptions& options) {
  DataDir out;
  out.dir = dir;
  if (!PathExists(dir) || IsEmptyDir(dir)) {
    RETURN_IF_ERROR(Init(dir, options));
    out.created = true;
  }
  RETURN_IF_ERROR(CheckPrivate(dir, "data directory"));
  for (const char* key : {kCaKey, kServerKey, kAdminKey}) {
    std::string path = absl::StrCat(dir, "/", key);
    if (PathExists(path) || key != kAdminKey) {  // admin.key may have been moved away
      RETURN_IF_ERROR(Need(dir, key).status());
      RETURN_IF_ERROR(CheckPrivate(path, "key file"));
    }
  }
  out.secrets_key_path = SecretsKeyPath(dir, options);
  if (!PathExists(out.secrets_key_path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "secrets key file ", out.secrets_key_path,
        " is missing: without it the stored secrets cannot be opened (restore it, or point "
        "--secrets_key_file at it)"));
  }
  RETURN_IF_ERROR(CheckPrivate(out.secrets_key_path, "secrets key file"));
  if (std::string pending = out.secrets_key_path + ".new"; PathExists(pending)) {
    RETURN_IF_ERROR(CheckPrivate(pending, "secrets key file"));  // a rotation cut short
  }
  std::string in_dir = absl::StrCat(dir, "/", kSecretsKey);
  if (out.secrets_key_path != in_dir && PathExists(in_dir)) {
    LogWarning(
        "%s is not used (the secrets key is read from %s): remove it once that file is "
        "known good, so the key is not kept beside the database",
        in_dir, out.secrets_key_path);
  }
  ASSIGN_OR_RETURN(out.ca_cert_pem, Need(dir, kCaCert));
  ASSIGN_OR_RETURN(out.ca_key_pem, Need(dir, kCaKey));
  ASSIGN_OR_RETURN(out.server_cert_pem, Need(dir, kServerCert));
  ASSIGN_OR_RETURN(out.server_key_pem, Need(dir, kServerKey));
  auto secrets_key = ReadFile(out.secrets_key_path);
  if (!secrets_key.ok()) return secrets_key.status();
  out.secrets_key = *std::move(secrets_key);
  if (out.secrets_key.size() != 32) {
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", dir, ": secrets key file ", out.secrets_key_path,
                     " must hold 32 bytes, has ", out.secrets_key.size()));
  }
  if (PathExists(absl::StrCat(dir, "/", kCaChain))) {  // an intermediate issues
    ASSIGN_OR_RETURN(out.chain_pem, Need(dir, kCaChain));
  }
  if (auto st =
          CheckDataDirCerts(out.ca_cert_pem, out.chain_pem, out.ca_key_pem, out.server_cert_pem);
      !st.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("data directory ", dir, ": ", st.message()));
  }
  out.issuer_cert_pem = out.ca_cert_pem;
  if (!out.chain_pem.empty()) {
    ASSIGN_OR_RETURN(std::vector<std::string> chain, SplitCerts(out.chain_pem));
    ASSIGN_OR_RETURN(std::vector<std::string> roots, SplitCerts(out.ca_cert_pem));
    out.issuer_cert_pem = chain.front();
    for (const auto& c : chain) {
      if (std::find(roots.begin(), roots.end(), c) == roots.end()) out.intermediates_pem += c;
    }
  }
  out.db_path = absl::StrCat(dir, "/", kDb);
  if (!out.created && !PathExists(out.db_path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", dir, " has its certificates but no database ", kDb,
        ": refusing to start with an empty fleet (restore the database, or use a new directory)"));
  }
  return out;
}

}  // namespace purser::server
