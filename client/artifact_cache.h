// The agent's artifact cache: files named by SHA-256, downloaded in resumable
// chunks, verified before they are kept. A mismatch is refused and discarded.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "purser/v1/agent.grpc.pb.h"

namespace purser::client {

class ArtifactCache {
 public:
  explicit ArtifactCache(std::string dir) : dir_(std::move(dir)) {}
  // The local path of `artifact`, downloading (or resuming) it when needed.
  // DATA_LOSS when the bytes do not hash to artifact.sha256().
  absl::StatusOr<std::string> Ensure(v1::AgentService::Stub* stub, const v1::Artifact& artifact);

 private:
  std::string dir_;
};

}  // namespace purser::client
