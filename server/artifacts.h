// Packages (MSUs, MMA installers) stored by SHA-256 in <data_dir>/artifacts,
// with the streaming RPCs that move them: operators upload (hashed as the
// bytes arrive), agents download in resumable chunks.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "db/store.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "purser/v1/agent.pb.h"
#include "purser/v1/operator.pb.h"

namespace purser::server {

struct ServerCore;

inline constexpr int64_t kArtifactChunkBytes = 256 * 1024;
inline constexpr int64_t kMaxArtifactBytes = 2LL << 30;

class ArtifactStore {
 public:
  ArtifactStore(std::string dir, db::Store* store) : dir_(std::move(dir)), store_(store) {}
  absl::Status Init();
  std::string PathOf(const std::string& sha256) const { return dir_ + "/" + sha256; }
  // name -> sha256 for every artifact of `plan` that has been uploaded: the
  // pinned hash when the plan gives one, else the newest upload of that name.
  absl::StatusOr<std::map<std::string, std::string>> Resolve(const v1::Plan& plan);
  const std::string& dir() const { return dir_; }
  db::Store* store() const { return store_; }

 private:
  std::string dir_;
  db::Store* store_;
};

grpc::ServerReadReactor<v1::UploadArtifactRequest>* NewUploadReactor(
    ServerCore* core, grpc::CallbackServerContext* ctx, v1::ArtifactInfo* resp);
grpc::ServerWriteReactor<v1::ArtifactChunk>* NewDownloadReactor(
    ServerCore* core, grpc::CallbackServerContext* ctx, const v1::DownloadArtifactRequest* req);

}  // namespace purser::server
