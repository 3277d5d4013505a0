// The agent's artifact cache: files named by SHA-256, downloaded in resumable
// chunks, verified before they are kept. A mismatch is refused and discarded.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "client/executor.h"
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

// Phase one of the guide's two: every file the job's remaining steps need,
// downloaded and verified. Fills `staged` (the job with local paths in params
// "artifact:<name>"); a failure comes back as a FAILED/ARTIFACT result, and an
// unspecified outcome means all is staged.
ActionResult StageJob(ArtifactCache& cache, v1::AgentService::Stub* stub, const v1::Job& job,
                      v1::Job* staged);

}  // namespace purser::client
