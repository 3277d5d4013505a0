#include "server/artifacts.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "server/access.h"
#include "server/audit.h"
#include "server/core.h"
#include "shared/crypto.h"
#include "shared/disk_full.h"
#include "shared/files.h"
#include "shared/logging.h"

namespace purser::server {

absl::Status ArtifactStore::Init() { return MakeDirs(dir_, 0700); }

absl::StatusOr<std::map<std::string, std::string>> ArtifactStore::Resolve(const v1::Plan& plan) {
  auto all = store_->ListArtifacts();
  if (!all.ok()) return all.status();
  std::map<std::string, std::string> newest, by_hash;
  for (const auto& a : *all) {  // ordered by name, then upload time
    newest[a.name()] = a.sha256();
    by_hash[a.sha256()] = a.name();
  }
  std::map<std::string, std::string> out;
  for (const auto& a : plan.artifacts()) {
    if (!a.sha256().empty()) {
      if (by_hash.count(a.sha256())) out[a.name()] = a.sha256();
    } else if (newest.count(a.name())) {
      out[a.name()] = newest[a.name()];
    }
  }
  return out;
}

namespace {

// Receives an upload: the header first, then chunks, hashed and written to a
// temporary file that becomes <sha256> only once complete and verified.
class UploadReactor : public grpc::ServerReadReactor<v1::UploadArtifactRequest> {
 public:
  UploadReactor(ServerCore* core, grpc::CallbackServerContext* ctx, v1::ArtifactInfo* resp)
      : core_(core), ctx_(ctx), resp_(resp), md_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(md_, EVP_sha256(), nullptr);
    StartRead(&req_);
  }
  ~UploadReactor() override {
    EVP_MD_CTX_free(md_);
    if (fd_ >= 0) ::close(fd_);
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
  }
  void OnReadDone(bool ok) override {
    core_->pool->Submit([this, ok] {
      absl::Status st = ok ? Take() : absl::OkStatus();
      if (ok && st.ok()) {
        StartRead(&req_);
        return;
      }
      // The end of the upload, stored or not: audited (the header, not the bytes).
      v1::UploadArtifactRequest audited;
      *audited.mutable_header() = header_seen_ ? header_ : req_.header();
      CallAudit audit(core_, kMethod, *ctx_->auth_context(), audited);
      if (refused_) {
        audit.Refused(st);
      } else {
        if (!ok) st = Complete();
        audit.Done(st);
      }
      Finish(ToGrpc(st));
    });
  }
  void OnDone() override { delete this; }

 private:
  absl::Status Take() {
    if (!header_seen_) {
      auto caller = core_->authz.Authorize(*ctx_->auth_context(), kMethod);
      if (!caller.ok()) {
        refused_ = true;
        return caller.status();
      }
      caller_ = *caller;
      by_ = caller->id;
      if (!req_.has_header())
        return absl::InvalidArgumentError("header: the first message must name the artifact");
      header_ = req_.header();
      if (header_.name().empty() || header_.name().find('/') != std::string::npos) {
        return absl::InvalidArgumentError("header.name: required, without '/'");
      }
      if (header_.size() <= 0 || header_.size() > kMaxArtifactBytes) {
        return absl::InvalidArgumentError("header.size: must be 1 byte to 2 GiB");
      }
      header_seen_ = true;
      tmp_ = absl::StrCat(core_->artifacts->dir(), "/upload-", RandomHex(8));
      fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd_ < 0) return WriteError("cannot create the upload file");
      return absl::OkStatus();
    }
    // Revoked or expired while the stream is open: stop at the next message.
    if (absl::Status valid = core_->authz.StillValid(caller_); !valid.ok()) return valid;
    if (req_.part_case() != v1::UploadArtifactRequest::kChunk) {
      return absl::InvalidArgumentError("chunk: expected bytes after the header");
    }
    const std::string& data = req_.chunk();
    received_ += static_cast<int64_t>(data.size());
    if (received_ > header_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than the announced ", header_.size(), " bytes"));
    }
    EVP_DigestUpdate(md_, data.data(), data.size());
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return WriteError("cannot write the upload");
      }
      off += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  // ENOSPC (or EDQUOT) is the operator's full disk, not a fault of ours.
  absl::Status WriteError(const std::string& what) const {
    if (errno == ENOSPC || errno == EDQUOT) return DiskFullError(core_->artifacts->dir(), what);
    return absl::InternalError(what);
  }

  absl::Status Complete() {
    if (!header_seen_) return absl::InvalidArgumentError("empty upload");
    if (received_ != header_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("upload ended after ", received_, " of ", header_.size(), " bytes"));
    }
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md_, md, &len);
    std::string sha = HexEncode(std::string(reinterpret_cast<char*>(md), len));
    if (!header_.sha256().empty() && header_.sha256() != sha) {
      return absl::InvalidArgumentError(
          absl::StrCat("header.sha256: the bytes hash to ", sha, ", not ", header_.sha256()));
    }
    if (::fsync(fd_) != 0) return WriteError("cannot fsync the upload");
    ::close(fd_);
    fd_ = -1;
    if (::rename(tmp_.c_str(), core_->artifacts->PathOf(sha).c_str()) != 0) {
      return absl::InternalError("cannot store the upload");
    }
    tmp_.clear();
    if (absl::Status st = SyncParentDir(core_->artifacts->PathOf(sha)); !st.ok()) return st;
    resp_->set_name(header_.name());
    resp_->set_sha256(sha);
    resp_->set_size(received_);
    resp_->set_uploaded_unix_ms(core_->clock->NowMs());
    resp_->set_uploaded_by(by_);
    LogInfo("artifact %s uploaded by %s: %d bytes, sha256 %s", header_.name(), by_,
            static_cast<int>(received_), sha);
    return core_->store->PutArtifact(*resp_);
  }

  ServerCore* core_;
  grpc::CallbackServerContext* ctx_;
  v1::ArtifactInfo* resp_;
  v1::UploadArtifactRequest req_;
  v1::ArtifactInfo header_;
  inline static const std::string kMethod = OperatorMethod("UploadArtifact");
  bool header_seen_ = false;
  bool refused_ = false;
  Caller caller_;
  std::string by_;
  std::string tmp_;
  int fd_ = -1;
  int64_t received_ = 0;
  EVP_MD_CTX* md_;
};

// Sends one artifact from an offset, a chunk at a time; reads happen on the pool.
class DownloadReactor : public grpc::ServerWriteReactor<v1::ArtifactChunk> {
 public:
  DownloadReactor(ServerCore* core, grpc::CallbackServerContext* ctx,
                  const v1::DownloadArtifactRequest* req)
      : core_(core), offset_(req->offset()) {
    bool queued = core_->pool->TrySubmit([this, ctx, req] {
      const std::string method = AgentMethod("DownloadArtifact");
      auto caller = core_->authz.Authorize(*ctx->auth_context(), method);
      if (!caller.ok()) {
        CallAudit(core_, method, *ctx->auth_context(), *req).Refused(caller.status());
        return Finish(ToGrpc(caller.status()));
      }
      const std::string& sha = req->sha256();
      caller_ = *caller;
      if (sha.size() != 64 || sha.find_first_not_of("0123456789abcdef") != std::string::npos) {
        return Finish(ToGrpc(absl::InvalidArgumentError("sha256: 64 lowercase hex digits")));
      }
      fd_ = ::open(core_->artifacts->PathOf(sha).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0)
        return Finish(ToGrpc(absl::NotFoundError(absl::StrCat("artifact ", sha, " not stored"))));
      total_ = ::lseek(fd_, 0, SEEK_END);
      if (offset_ < 0 || offset_ > total_) {
        return Finish(ToGrpc(absl::OutOfRangeError("offset: beyond the artifact's end")));
      }
      Next();
    });
    if (!queued) Finish(ServerBusy());
  }
  ~DownloadReactor() override {
    if (fd_ >= 0) ::close(fd_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    core_->pool->Submit([this] { Next(); });
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (offset_ >= total_) return Finish(grpc::Status::OK);
    // Revoked or expired while the stream is open: stop at the next chunk.
    if (absl::Status valid = core_->authz.StillValid(caller_); !valid.ok()) {
      return Finish(ToGrpc(valid));
    }
    std::string buf(static_cast<size_t>(std::min(kArtifactChunkBytes, total_ - offset_)), '\0');
    ssize_t n = ::pread(fd_, buf.data(), buf.size(), offset_);
    if (n <= 0) return Finish(ToGrpc(absl::InternalError("cannot read the artifact")));
    buf.resize(static_cast<size_t>(n));
    chunk_.set_offset(offset_);
    chunk_.set_total_size(total_);
    *chunk_.mutable_data() = std::move(buf);
    offset_ += n;
    StartWrite(&chunk_);
  }

  ServerCore* core_;
  Caller caller_;
  int64_t offset_;
  int64_t total_ = 0;
  int fd_ = -1;
  v1::ArtifactChunk chunk_;
};

}  // namespace

grpc::ServerReadReactor<v1::UploadArtifactRequest>* NewUploadReactor(
    ServerCore* core, grpc::CallbackServerContext* ctx, v1::ArtifactInfo* resp) {
  return new UploadReactor(core, ctx, resp);
}

grpc::ServerWriteReactor<v1::ArtifactChunk>* NewDownloadReactor(
    ServerCore* core, grpc::CallbackServerContext* ctx, const v1::DownloadArtifactRequest* req) {
  return new DownloadReactor(core, ctx, req);
}

}  // namespace purser::server
