#include "server/data_dir.h"

#include <dirent.h>
#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/ca.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/status_macros.h"
#include "shared/x509.h"

namespace purser::server {
namespace {

constexpr char kCaCert[] = "ca.pem";
constexpr char kCaKey[] = "ca.key";
constexpr char kServerCert[] = "server.pem";
constexpr char kServerKey[] = "server.key";
constexpr char kSecretsKey[] = "secrets.key";
constexpr char kAdminCert[] = "admin.pem";
constexpr char kAdminKey[] = "admin.key";
constexpr char kDb[] = "purser.db";

bool IsEmptyDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") empty = false;
  }
  ::closedir(d);
  return empty;
}

absl::Status Init(const std::string& dir, const std::vector<std::string>& extra_names) {
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  if (::chmod(dir.c_str(), 0700) != 0) {  // an empty directory made for us is ours now
    return absl::PermissionDeniedError(absl::StrCat("cannot make ", dir, " private (chmod 700)"));
  }
  ASSIGN_OR_RETURN(std::string ca_key, GenerateKeyPem());
  CertSpec ca_spec{"Purser CA", "", 10LL * 365 * 24 * 3600, true, {}, {}};
  ASSIGN_OR_RETURN(IssuedCert ca, MakeSelfSignedCa(ca_key, ca_spec));
  ASSIGN_OR_RETURN(std::string server_key, GenerateKeyPem());
  ASSIGN_OR_RETURN(std::string server_pub, PublicKeyDerOfKey(server_key));
  CertSpec server_spec{
      kServerName,         "server", 2LL * 365 * 24 * 3600, false, {kServerName, "localhost"},
      {"127.0.0.1", "::1"}};
  for (const auto& n : extra_names) {
    bool ip = !n.empty() && n.find_first_not_of("0123456789.:") == std::string::npos;
    (ip ? server_spec.ip_addresses : server_spec.dns_names).push_back(n);
  }
  ASSIGN_OR_RETURN(IssuedCert server, IssueCert(ca_key, ca.pem, server_pub, server_spec));
  // The first admin: written only where its owner can read it.
  ASSIGN_OR_RETURN(std::string admin_key, GenerateKeyPem());
  ASSIGN_OR_RETURN(std::string admin_pub, PublicKeyDerOfKey(admin_key));
  CertificateAuthority authority(ca.pem, ca_key);
  ASSIGN_OR_RETURN(IssuedCert admin,
                   authority.IssueOperator(admin_pub, "admin", "admin", kOperatorCertSeconds));
  // Keys first, the CA certificate last: a crash mid-way leaves an incomplete
  // directory that the next start reports by the missing file's name.
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kCaKey), ca_key, 0600));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kServerKey), server_key, 0600));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kServerCert), server.pem, 0644));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kSecretsKey), RandomBytes(32), 0600));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kAdminKey), admin_key, 0600));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kAdminCert), admin.pem, 0600));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kCaCert), ca.pem, 0644));
  return absl::OkStatus();
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

// Keys, and the directory holding them, must be the owner's alone: a key that
// others could read has to be assumed copied.
absl::Status CheckPrivate(const std::string& path, const std::string& what) {
  ASSIGN_OR_RETURN(int mode, FileMode(path));
  if ((mode & 077) == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "%s %s has mode %04o: others than its owner can read or change it (chmod %s %s; if it "
      "may have been copied, replace it)",
      what, path, mode, what == "data directory" ? "700" : "600", path));
}

}  // namespace

absl::StatusOr<DataDir> OpenOrInitDataDir(const std::string& dir,
                                          const std::vector<std::string>& extra_names) {
  DataDir out;
  out.dir = dir;
  if (!PathExists(dir) || IsEmptyDir(dir)) {
    RETURN_IF_ERROR(Init(dir, extra_names));
    out.created = true;
  }
  RETURN_IF_ERROR(CheckPrivate(dir, "data directory"));
  for (const char* key : {kCaKey, kServerKey, kSecretsKey, kAdminKey}) {
    std::string path = absl::StrCat(dir, "/", key);
    if (PathExists(path) || key != kAdminKey) {  // admin.key may have been moved away
      RETURN_IF_ERROR(Need(dir, key).status());
      RETURN_IF_ERROR(CheckPrivate(path, "key file"));
    }
  }
  ASSIGN_OR_RETURN(out.ca_cert_pem, Need(dir, kCaCert));
  ASSIGN_OR_RETURN(out.ca_key_pem, Need(dir, kCaKey));
  ASSIGN_OR_RETURN(out.server_cert_pem, Need(dir, kServerCert));
  ASSIGN_OR_RETURN(out.server_key_pem, Need(dir, kServerKey));
  ASSIGN_OR_RETURN(out.secrets_key, Need(dir, kSecretsKey));
  if (out.secrets_key.size() != 32) {
    return absl::FailedPreconditionError(absl::StrCat("data directory ", dir, ": ", kSecretsKey,
                                                      " must hold 32 bytes, has ",
                                                      out.secrets_key.size()));
  }
  if (!VerifyCert(out.server_cert_pem, out.ca_cert_pem).ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", dir, ": ", kServerCert, " is not signed by ", kCaCert));
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
