// The agent service (see proto/purser/v1/agent.proto), on the callback API:
// reactions only queue work on the pool; WaitForWork parks in Waiters.
#pragma once
#include "purser/v1/agent.grpc.pb.h"
#include "server/core.h"

namespace purser::server {

class AgentServiceImpl final : public v1::AgentService::CallbackService {
 public:
  explicit AgentServiceImpl(ServerCore* core) : core_(core) {}

  grpc::ServerUnaryReactor* Enroll(grpc::CallbackServerContext* ctx, const v1::EnrollRequest* req,
                                   v1::EnrollResponse* resp) override;
  grpc::ServerUnaryReactor* CheckIn(grpc::CallbackServerContext* ctx, const v1::CheckInRequest* req,
                                    v1::CheckInResponse* resp) override;
  grpc::ServerUnaryReactor* WaitForWork(grpc::CallbackServerContext* ctx,
                                        const v1::WaitForWorkRequest* req,
                                        v1::WaitForWorkResponse* resp) override;
  grpc::ServerUnaryReactor* ReportResult(grpc::CallbackServerContext* ctx,
                                         const v1::ReportResultRequest* req,
                                         v1::ReportResultResponse* resp) override;
  grpc::ServerUnaryReactor* RenewCertificate(grpc::CallbackServerContext* ctx,
                                             const v1::RenewCertificateRequest* req,
                                             v1::RenewCertificateResponse* resp) override;
  grpc::ServerWriteReactor<v1::ArtifactChunk>* DownloadArtifact(
      grpc::CallbackServerContext* ctx, const v1::DownloadArtifactRequest* req) override {
    return NewDownloadReactor(core_, ctx, req);
  }

 private:
  ServerCore* core_;
};

// Tries to hand `r` a job; parks it in Waiters when there is none. Runs on the pool.
void ProcessWait(ServerCore* core, WaitReactor* r);
// Answers a parked long poll with "nothing yet".
void FinishEmpty(WaitReactor* r);
// Ends a parked long poll with PERMISSION_DENIED (its certificate was revoked).
void FinishRefused(WaitReactor* r, const std::string& why);

}  // namespace purser::server
