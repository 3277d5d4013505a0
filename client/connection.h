// An agent's identity on disk (key, certificate, CA, endpoint id, nonce) and
// the enrollment that creates it. The private key is made here and never sent.
#pragma once
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "purser/v1/agent.pb.h"

namespace purser::client {

struct Identity {
  std::string endpoint_id;
  std::string key_pem;
  std::string cert_pem;
  std::string ca_pem;
  std::string nonce;
};

// Loads the identity from `state_dir`; NOT_FOUND when the agent never enrolled.
absl::StatusOr<Identity> LoadIdentity(const std::string& state_dir);
// Enrolls with `token` over server-authenticated TLS and saves the identity
// (key and certificate mode 0600) in `state_dir`.
absl::StatusOr<Identity> Enroll(const std::string& server, const std::string& ca_pem,
                                const std::string& token, const v1::Inventory& inventory,
                                const std::string& state_dir);
// Saves a renewed certificate (and its key) atomically.
absl::Status SaveCertificate(const std::string& state_dir, const std::string& key_pem,
                             const std::string& cert_pem);
// A mutual-TLS channel for this identity.
std::shared_ptr<grpc::Channel> AgentChannel(const std::string& server, const Identity& id);

}  // namespace purser::client
