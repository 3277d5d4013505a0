// The server's data directory: CA, server certificate, secrets key, first
// admin certificate and the database. Initialised on first start; on later
// starts every file must be there, or the error names the one missing.
#pragma once
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace purser::server {

inline constexpr int64_t kServerCertSeconds = 2LL * 365 * 24 * 3600;

struct DataDirOptions {
  // Extra DNS names and IP addresses for the server certificate.
  std::vector<std::string> extra_names;
  // Where the secrets key lives; empty: <dir>/secrets.key. Created by
  // initialisation when missing; on later starts it must be there.
  std::string secrets_key_file;
  int64_t server_cert_seconds = kServerCertSeconds;
  // Initialisation only: a directory holding intermediate.pem (the issuing CA,
  // then any CA between it and the root), intermediate.key and root.pem. The
  // data directory then issues with the intermediate; peers trust root.pem.
  std::string ca_from;
};

struct DataDir {
  std::string dir;
  // ca.pem: what agents and operators trust (the root, or the self-signed CA).
  std::string ca_cert_pem;
  // The CA that signs (ca.key is its key): the intermediate, or ca.pem.
  std::string issuer_cert_pem;
  // ca-chain.pem: the intermediate(s) then the root; empty when self-signed.
  // What client certificates are verified against.
  std::string chain_pem;
  // The intermediate(s) alone: they follow every certificate the directory's
  // CA issues (server, operators, agents), so each verifies under ca.pem.
  std::string intermediates_pem;
  std::string ca_key_pem;
  std::string server_cert_pem;  // server.pem: the certificate, then intermediates_pem
  std::string server_key_pem;
  std::string secrets_key;  // 32 bytes for AES-256-GCM
  std::string secrets_key_path;
  std::string db_path;
  bool created = false;  // initialised by this call

  std::string server_cert_path() const { return dir + "/server.pem"; }
  std::string server_key_path() const { return dir + "/server.key"; }
  // The file client certificates are verified against.
  std::string client_trust_path() const;
};

// Opens `dir`, initialising it when it does not exist or is empty. The server
// certificate names "purser-server", "localhost", 127.0.0.1 and the extra names.
absl::StatusOr<DataDir> OpenOrInitDataDir(const std::string& dir, const DataDirOptions& options);
absl::StatusOr<DataDir> OpenOrInitDataDir(const std::string& dir,
                                          const std::vector<std::string>& extra_names);
// Whether `dir` is empty but for its lock file (a server's, or a command's).
bool IsEmptyDir(const std::string& dir);
// Initialises `dir` (`purser-server init`): refused unless it is missing or empty.
absl::Status InitDataDir(const std::string& dir, const DataDirOptions& options);
// Refused when a restore into `dir` was cut short (a `<dir>.restore-tmp-*`
// beside it): a new data directory there would hide the restored one. Called
// before a missing `dir` is created.
absl::Status CheckNoUnfinishedRestore(std::string dir);

// The certificate checks of a data directory's files, for a start and a
// restore alike: ca-chain.pem (when not empty) chains to ca.pem; ca.key is
// the key of the CA that issues (ca-chain.pem's first certificate, else
// ca.pem's); server.pem chains to ca.pem (dates aside: a server renews an
// expired one at start). The error names the file.
absl::Status CheckDataDirCerts(const std::string& ca_pem, const std::string& chain_pem,
                               const std::string& ca_key_pem, const std::string& server_pem);

// Key files (private keys, the secrets key) must be the owner's alone: a mode
// with any bit for group or others, or another owner, is refused, naming the
// file and the fix. `what` names it in the message ("key file").
absl::Status CheckPrivateFile(const std::string& path, const std::string& what);

// The server certificate for `server_key_pem`, naming these names, issued
// by the directory's CA at `now_ms` (0: now), with its intermediates appended.
absl::StatusOr<std::string> IssueServerCert(const DataDir& dir, const std::string& server_key_pem,
                                            const std::vector<std::string>& dns_names,
                                            const std::vector<std::string>& ip_addresses,
                                            int64_t validity_seconds, int64_t now_ms = 0);
// Whether a --names entry is an IP address (else a DNS name).
bool IsIpAddress(const std::string& name);

}  // namespace purser::server
