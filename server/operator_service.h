// The operator service (see proto/purser/v1/operator.proto). Every method
// checks the caller's role from its certificate first.
#pragma once
#include "purser/v1/operator.grpc.pb.h"
#include "server/campaigns.h"
#include "server/core.h"

namespace purser::server {

class OperatorServiceImpl final : public v1::OperatorService::CallbackService {
 public:
  OperatorServiceImpl(ServerCore* core, Campaigns* campaigns)
      : core_(core), campaigns_(campaigns) {}

  grpc::ServerUnaryReactor* CreateEnrollmentToken(grpc::CallbackServerContext* ctx,
                                                  const v1::CreateEnrollmentTokenRequest* req,
                                                  v1::CreateEnrollmentTokenResponse* resp) override;
  grpc::ServerUnaryReactor* ListEndpoints(grpc::CallbackServerContext* ctx,
                                          const v1::ListEndpointsRequest* req,
                                          v1::ListEndpointsResponse* resp) override;
  grpc::ServerUnaryReactor* CountEndpoints(grpc::CallbackServerContext* ctx,
                                           const v1::ListEndpointsRequest* req,
                                           v1::EndpointCounts* resp) override;
  grpc::ServerUnaryReactor* GetServerStats(grpc::CallbackServerContext* ctx,
                                           const v1::GetServerStatsRequest* req,
                                           v1::ServerStats* resp) override;
  grpc::ServerUnaryReactor* GetEndpoint(grpc::CallbackServerContext* ctx,
                                        const v1::GetEndpointRequest* req,
                                        v1::GetEndpointResponse* resp) override;
  grpc::ServerUnaryReactor* StartRun(grpc::CallbackServerContext* ctx,
                                     const v1::StartRunRequest* req,
                                     v1::StartRunResponse* resp) override;
  grpc::ServerUnaryReactor* PutSecret(grpc::CallbackServerContext* ctx,
                                      const v1::PutSecretRequest* req,
                                      v1::PutSecretResponse* resp) override;
  grpc::ServerUnaryReactor* RotateSecretsKey(grpc::CallbackServerContext* ctx,
                                             const v1::RotateSecretsKeyRequest* req,
                                             v1::RotateSecretsKeyResponse* resp) override;
  grpc::ServerUnaryReactor* ListPlans(grpc::CallbackServerContext* ctx,
                                      const v1::ListPlansRequest* req,
                                      v1::ListPlansResponse* resp) override;
  grpc::ServerUnaryReactor* AllowReboot(grpc::CallbackServerContext* ctx,
                                        const v1::AllowRebootRequest* req,
                                        v1::AllowRebootResponse* resp) override;
  grpc::ServerReadReactor<v1::UploadArtifactRequest>* UploadArtifact(
      grpc::CallbackServerContext* ctx, v1::ArtifactInfo* resp) override {
    return NewUploadReactor(core_, ctx, resp);
  }
  grpc::ServerUnaryReactor* ListArtifacts(grpc::CallbackServerContext* ctx,
                                          const v1::ListArtifactsRequest* req,
                                          v1::ListArtifactsResponse* resp) override;

  grpc::ServerUnaryReactor* CreateCampaign(grpc::CallbackServerContext* ctx,
                                           const v1::CreateCampaignRequest* req,
                                           v1::Campaign* resp) override;
  grpc::ServerUnaryReactor* ListCampaigns(grpc::CallbackServerContext* ctx,
                                          const v1::ListCampaignsRequest* req,
                                          v1::ListCampaignsResponse* resp) override;
  grpc::ServerUnaryReactor* GetCampaign(grpc::CallbackServerContext* ctx,
                                        const v1::GetCampaignRequest* req,
                                        v1::GetCampaignResponse* resp) override;
  grpc::ServerUnaryReactor* ActOnCampaign(grpc::CallbackServerContext* ctx,
                                          const v1::ActOnCampaignRequest* req,
                                          v1::Campaign* resp) override;
  grpc::ServerWriteReactor<v1::Campaign>* WatchCampaign(
      grpc::CallbackServerContext* ctx, const v1::GetCampaignRequest* req) override {
    return campaigns_->Watch(ctx, req);
  }

  grpc::ServerUnaryReactor* GetEndpointHistory(grpc::CallbackServerContext* ctx,
                                               const v1::GetEndpointHistoryRequest* req,
                                               v1::EndpointHistory* resp) override;
  grpc::ServerUnaryReactor* IssueOperatorCertificate(grpc::CallbackServerContext* ctx,
                                                     const v1::IssueOperatorCertificateRequest* req,
                                                     v1::IssuedCertificate* resp) override;
  grpc::ServerUnaryReactor* RenewOperatorCertificate(grpc::CallbackServerContext* ctx,
                                                     const v1::RenewOperatorCertificateRequest* req,
                                                     v1::IssuedCertificate* resp) override;
  grpc::ServerUnaryReactor* ListCertificates(grpc::CallbackServerContext* ctx,
                                             const v1::ListCertificatesRequest* req,
                                             v1::ListCertificatesResponse* resp) override;
  grpc::ServerUnaryReactor* RevokeCertificate(grpc::CallbackServerContext* ctx,
                                              const v1::RevokeCertificateRequest* req,
                                              v1::CertificateInfo* resp) override;
  grpc::ServerUnaryReactor* UploadPlan(grpc::CallbackServerContext* ctx,
                                       const v1::UploadPlanRequest* req, v1::Plan* resp) override;
  grpc::ServerUnaryReactor* SetLabels(grpc::CallbackServerContext* ctx,
                                      const v1::SetLabelsRequest* req, v1::Endpoint* resp) override;
  grpc::ServerUnaryReactor* ListAudit(grpc::CallbackServerContext* ctx,
                                      const v1::ListAuditRequest* req,
                                      v1::ListAuditResponse* resp) override;

 private:
  absl::StatusOr<v1::IssuedCertificate> Issue(const std::string& csr_pem, const std::string& name,
                                              const std::string& role, int64_t validity_seconds);
  ServerCore* core_;
  Campaigns* campaigns_;
};

}  // namespace purser::server
