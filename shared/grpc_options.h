// One place for the gRPC settings both sides must agree on: message limits,
// keepalive, and how TLS credentials are built from PEM files.
#pragma once
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace purser {

// Largest message either side accepts. Artifacts travel in chunks below it.
inline constexpr int kMaxMessageBytes = 1 << 20;
// The name the server certificate carries and clients check, whatever address they dial.
inline constexpr char kServerName[] = "purser-server";

struct TlsFiles {
  std::string ca_pem;    // CA that signed the server certificate
  std::string cert_pem;  // client certificate; empty for enrollment
  std::string key_pem;   // client private key; empty for enrollment
};

// Channel arguments: keepalive, message limits, server-name override.
grpc::ChannelArguments ClientChannelArgs();
// A TLS channel to `target` ("host:port"). With cert/key: mutual TLS.
std::shared_ptr<grpc::Channel> MakeTlsChannel(const std::string& target, const TlsFiles& tls);
// Same, with these channel arguments (start from ClientChannelArgs()).
std::shared_ptr<grpc::Channel> MakeTlsChannel(const std::string& target, const TlsFiles& tls,
                                              const grpc::ChannelArguments& args);
// Reads ca/cert/key PEM files; cert and key may be empty paths. Each file is
// checked before any connection: INVALID_ARGUMENT names the file that is not
// PEM or a key that does not belong to the certificate; PERMISSION_DENIED a
// certificate that the CA did not issue (or that expired): the server would
// refuse it.
absl::StatusOr<TlsFiles> LoadTlsFiles(const std::string& ca_path, const std::string& cert_path,
                                      const std::string& key_path);

}  // namespace purser
