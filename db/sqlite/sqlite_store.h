// The SQLite Store: WAL, one writer thread with group commit (see writer.h),
// readers on their own connections, prepared statements only.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "db/sqlite/connection.h"
#include "db/sqlite/writer.h"
#include "db/store.h"

namespace purser::db {

class SqliteStore : public Store {
 public:
  // Opens `path`, creating it when `create`, and applies pending migrations.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path, bool create,
                                                           StoreOptions options = {});
  ~SqliteStore() override;

  absl::Status CreateToken(const TokenRecord& token, int64_t now_ms) override;
  absl::StatusOr<v1::Endpoint> Enroll(const EnrollArgs& args) override;
  absl::Status CheckToken(const std::string& token_id, const std::string& secret_hash,
                          int64_t now_ms) override;
  absl::StatusOr<v1::Endpoint> CheckIn(const std::string& endpoint_id,
                                       const v1::Inventory& inventory, int64_t now_ms) override;
  absl::StatusOr<v1::Endpoint> GetEndpoint(const std::string& id, int64_t now_ms) override;
  absl::StatusOr<EndpointPage> ListEndpoints(const EndpointFilter& filter, int64_t now_ms) override;
  absl::StatusOr<StateCounts> CountEndpoints(const EndpointFilter& filter) override;
  absl::StatusOr<StateOsCounts> CountEndpointsByStateAndOs() override;
  absl::StatusOr<StoreStats> Stats() override;
  absl::StatusOr<v1::Endpoint> SetLabels(const std::string& id,
                                         const std::map<std::string, std::string>& set,
                                         const std::vector<std::string>& remove,
                                         int64_t now_ms) override;
  absl::Status TouchEndpoints(const std::vector<std::string>& ids, int64_t now_ms) override;
  absl::StatusOr<std::vector<v1::JobInfo>> ListJobs(const std::string& endpoint_id) override;
  absl::StatusOr<v1::StartRunResponse> StartRun(const RunSpec& spec) override;
  absl::StatusOr<LeaseResult> LeaseNextJob(const std::string& endpoint_id, int64_t now_ms) override;
  absl::StatusOr<ReportAck> RecordReport(const std::string& endpoint_id,
                                         const v1::ReportResultRequest& report,
                                         int64_t now_ms) override;
  absl::StatusOr<int> AllowReboot(const std::vector<std::string>& ids) override;
  absl::StatusOr<ExpiredLeases> ExpireLeases(int64_t now_ms) override;
  absl::Status PutArtifact(const v1::ArtifactInfo& info) override;
  absl::StatusOr<std::vector<v1::ArtifactInfo>> ListArtifacts() override;
  absl::StatusOr<std::vector<DueVerify>> DueForVerify(int64_t before_ms, int limit) override;
  absl::StatusOr<std::vector<DueVerify>> Drifted(int limit) override;
  absl::StatusOr<RunEnd> RunOutcome(const std::string& run_id,
                                    const std::string& endpoint_id) override;
  absl::Status CancelRun(const std::string& run_id, const std::string& endpoint_id,
                         int64_t now_ms) override;
  absl::Status CreateCampaign(const v1::Campaign& campaign,
                              const std::vector<v1::CampaignMember>& members) override;
  absl::StatusOr<std::vector<v1::Campaign>> ListCampaigns() override;
  absl::StatusOr<std::vector<v1::CampaignMember>> ListMembers(
      const std::string& campaign_id) override;
  absl::Status SaveCampaign(const v1::Campaign& campaign,
                            const std::vector<v1::CampaignMember>& members) override;
  absl::Status RecordCert(const CertRecord& cert) override;
  absl::StatusOr<std::vector<CertRecord>> ListCerts() override;
  absl::StatusOr<std::vector<CertRecord>> RevokeCert(const std::string& serial,
                                                     int64_t now_ms) override;
  absl::Status AppendAudit(const v1::AuditEntry& entry) override;
  absl::Status SetAuditResult(int64_t row_id, int32_t code, const std::string& message) override;
  absl::StatusOr<v1::ListAuditResponse> ListAudit(const v1::ListAuditRequest& req) override;
  absl::StatusOr<std::vector<v1::HistoryEntry>> History(const std::string& endpoint_id) override;
  absl::Status PutSecret(const std::string& name, const std::string& sealed,
                         int64_t now_ms) override;
  absl::StatusOr<std::string> GetSealedSecret(const std::string& name) override;
  absl::StatusOr<std::vector<std::string>> ListSecretNames() override;
  absl::StatusOr<int> ResealSecrets(const ResealFn& reseal, int64_t now_ms) override;
  absl::StatusOr<std::string> PutPlanVersion(const v1::Plan& plan, int64_t now_ms) override;
  absl::StatusOr<v1::Plan> GetPlanVersion(const std::string& sha256) override;

  Writer::Stats writer_stats() const { return writer_->stats(); }

 private:
  SqliteStore(std::string path, StoreOptions options, std::unique_ptr<Writer> writer)
      : path_(std::move(path)), options_(options), writer_(std::move(writer)) {}

  // A write through the writer, carrying the thread's open AuditScope row.
  absl::Status Write(const Writer::WriteFn& fn);
  // Runs `fn` on a reader connection from the pool.
  absl::Status Read(const std::function<absl::Status(Connection&)>& fn);

  absl::Mutex expire_mu_;
  int64_t first_expire_ms_ ABSL_GUARDED_BY(expire_mu_) = 0;  // reboot deadlines count from here
  const std::string path_;
  const StoreOptions options_;
  std::unique_ptr<Writer> writer_;
  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_ ABSL_GUARDED_BY(readers_mu_);
};

}  // namespace purser::db
