#include "shared/grpc_options.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "shared/files.h"
#include "shared/x509.h"

namespace purser {

grpc::ChannelArguments ClientChannelArgs() {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kServerName);
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // Long-lived connections: ping idle ones so NATs and dead peers are noticed.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Reconnects back off (gRPC jitters them by +-20%) so a fleet that lost the
  // server does not return as one storm of handshakes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 10'000);
  return args;
}

std::shared_ptr<grpc::Channel> MakeTlsChannel(const std::string& target, const TlsFiles& tls) {
  return MakeTlsChannel(target, tls, ClientChannelArgs());
}

std::shared_ptr<grpc::Channel> MakeTlsChannel(const std::string& target, const TlsFiles& tls,
                                              const grpc::ChannelArguments& args) {
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = tls.ca_pem;
  opts.pem_cert_chain = tls.cert_pem;
  opts.pem_private_key = tls.key_pem;
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(opts), args);
}

absl::StatusOr<TlsFiles> LoadTlsFiles(const std::string& ca_path, const std::string& cert_path,
                                      const std::string& key_path) {
  TlsFiles tls;
  auto ca = ReadFile(ca_path);
  if (!ca.ok())
    return absl::Status(ca.status().code(),
                        absl::StrCat("CA certificate: ", ca.status().message()));
  tls.ca_pem = *ca;
  if (!cert_path.empty()) {
    auto cert = ReadFile(cert_path);
    if (!cert.ok())
      return absl::Status(cert.status().code(),
                          absl::StrCat("certificate: ", cert.status().message()));
    tls.cert_pem = *cert;
  }
  if (!key_path.empty()) {
    auto key = ReadFile(key_path);
    if (!key.ok())
      return absl::Status(key.status().code(),
                          absl::StrCat("private key: ", key.status().message()));
    tls.key_pem = *key;
  }
  if (!ParseCert(tls.ca_pem).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CA certificate ", ca_path, ": not a PEM certificate"));
  }
  if (tls.cert_pem.empty()) return tls;
  auto cert = ParseCert(tls.cert_pem);
  if (!cert.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate ", cert_path, ": not a PEM certificate",
        absl::StrContains(tls.cert_pem, "PRIVATE KEY") ? " (it holds a private key: "
                                                         "are --cert and --key swapped?)"
                                                       : ""));
  }
  if (!tls.key_pem.empty()) {
    auto pub = PublicKeyDerOfKey(tls.key_pem);
    if (!pub.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("private key ", key_path, ": not a PEM private key"));
    }
    if (*pub != cert->public_key_der) {
      return absl::InvalidArgumentError(
          absl::StrCat("private key ", key_path, " does not belong to certificate ", cert_path));
    }
  }
  if (absl::Status st = VerifyCert(tls.cert_pem, tls.ca_pem); !st.ok()) {
    return absl::PermissionDeniedError(absl::StrCat("the server refuses certificate ", cert_path,
                                                    ": it is not valid under the CA ", ca_path,
                                                    " (", st.message(), ")"));
  }
  return tls;
}

}  // namespace purser
