// The server's data directory: CA, server certificate, secrets key, first
// admin certificate and the database. Initialised on first start; on later
// starts every file must be there, or the error names the one missing.
#pragma once
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace purser::server {

struct DataDir {
  std::string dir;
  std::string ca_cert_pem;
  std::string ca_key_pem;
  std::string server_cert_pem;
  std::string server_key_pem;
  std::string secrets_key;  // 32 bytes for AES-256-GCM
  std::string db_path;
  bool created = false;  // initialised by this call
};

// Opens `dir`, initialising it when it does not exist or is empty. The server
// certificate names "purser-server", "localhost", 127.0.0.1 and `extra_names`.
absl::StatusOr<DataDir> OpenOrInitDataDir(const std::string& dir,
                                          const std::vector<std::string>& extra_names);

}  // namespace purser::server
