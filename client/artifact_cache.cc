#include "client/artifact_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/logging.h"

namespace purser::client {

absl::StatusOr<std::string> ArtifactCache::Ensure(v1::AgentService::Stub* stub,
                                                  const v1::Artifact& artifact) {
  const std::string& sha = artifact.sha256();
  if (sha.size() != 64 || sha.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("artifact ", artifact.name(), " has no valid hash"));
  }
  std::string path = absl::StrCat(dir_, "/", sha);
  if (PathExists(path)) return path;  // only verified files get this name
  if (auto st = MakeDirs(dir_, 0700); !st.ok()) return st;
  std::string partial = path + ".partial";
  struct stat st;
  int64_t offset = ::stat(partial.c_str(), &st) == 0 ? st.st_size : 0;
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot write ", partial));
  v1::DownloadArtifactRequest req;
  req.set_sha256(sha);
  req.set_offset(offset);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
  ctx.set_wait_for_ready(true);
  auto reader = stub->DownloadArtifact(&ctx, req);
  v1::ArtifactChunk chunk;
  absl::Status write_error;
  while (reader->Read(&chunk)) {
    if (chunk.offset() != offset) {
      write_error = absl::DataLossError("artifact chunks arrived out of order");
      break;
    }
    if (::write(fd, chunk.data().data(), chunk.data().size()) !=
        static_cast<ssize_t>(chunk.data().size())) {
      write_error = absl::ResourceExhaustedError(absl::StrCat("cannot write ", partial));
      break;
    }
    offset += static_cast<int64_t>(chunk.data().size());
  }
  if (!write_error.ok()) ctx.TryCancel();
  grpc::Status gs = reader->Finish();
  ::fsync(fd);
  ::close(fd);
  if (!write_error.ok()) return write_error;
  if (!gs.ok()) {
    // Keep the partial file: the next attempt resumes from its end.
    return absl::UnavailableError(
        absl::StrCat("downloading ", artifact.name(), ": ", gs.error_message()));
  }
  auto hashed = Sha256HexOfFile(partial);  // a block at a time: packages may be large
  if (!hashed.ok()) return hashed.status();
  const std::string& got = *hashed;
  if (got != sha) {
    ::unlink(partial.c_str());
    return absl::DataLossError(absl::StrCat(
        "artifact ", artifact.name(), " refused: its bytes hash to ", got, ", expected ", sha));
  }
  if (::rename(partial.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot store ", path));
  }
  SyncParentDir(path).IgnoreError();  // a lost rename is downloaded again
  LogInfo("staged %s (%lld bytes)", artifact.name(), static_cast<long long>(offset));
  return path;
}

ActionResult StageJob(ArtifactCache& cache, v1::AgentService::Stub* stub, const v1::Job& job,
                      v1::Job* staged) {
  *staged = job;
  ActionResult r;
  for (const auto& list : {job.stage(), job.artifacts()}) {
    for (const auto& a : list) {
      auto path = cache.Ensure(stub, a);
      if (!path.ok()) {
        r.outcome = v1::STEP_OUTCOME_FAILED;
        r.error_class = v1::ERROR_CLASS_ARTIFACT;
        r.message = std::string(path.status().message());
        return r;
      }
      (*staged->mutable_params())["artifact:" + a.name()] = *path;
    }
  }
  return r;
}

}  // namespace purser::client
