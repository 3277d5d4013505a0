// An agent identity made by hand: for tests and benchmarks that speak the
// agent API themselves (to act badly on purpose, or to load the server).
// The agent itself is client/, in Go.
#pragma once
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "purser/v1/common.pb.h"

namespace purser {

struct RawIdentity {
  std::string key_pem, cert_pem, ca_pem, endpoint_id;
  std::string nonce;  // the installation's, kept in state_dir/nonce
};

// Enrolls with `token` at `server` (host:port), keeping the key and nonce
// in state_dir: a second enrollment from the same directory is the same
// endpoint.
absl::StatusOr<RawIdentity> EnrollRawIdentity(const std::string& server, const std::string& ca_pem,
                                              const std::string& token,
                                              const v1::Inventory& inventory,
                                              const std::string& state_dir);

// A mutual-TLS channel to `server` as `id`.
std::shared_ptr<grpc::Channel> RawAgentChannel(const std::string& server, const RawIdentity& id);

}  // namespace purser
