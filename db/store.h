// The Store: everything the server keeps, behind one interface, so that a fleet
// that outgrows one SQLite file can move to another implementation (DESIGN §5).
// Every method is safe to call from any thread. Mutating methods return only
// after their transaction has committed (durably), so an RPC answered with
// their result never loses it.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "purser/v1/agent.pb.h"
#include "purser/v1/campaign.pb.h"
#include "purser/v1/operator.pb.h"
#include "purser/v1/plan.pb.h"

namespace purser::db {

struct TokenRecord {
  std::string id;
  std::string secret_hash;  // SHA-256 hex of the secret
  int max_uses = 1;
  int64_t expires_ms = 0;
  std::map<std::string, std::string> labels;
  std::string description;
  std::string created_by;
  // Revoked endpoints this token may enroll again (their key is refused otherwise).
  std::vector<std::string> readmit_endpoint_ids;
};

struct EnrollArgs {
  std::string token_id;
  std::string secret_hash;
  std::string endpoint_id;
  v1::Inventory inventory;
  std::string cert_serial;
  int64_t cert_not_after_ms = 0;
  int64_t now_ms = 0;
};

struct CertRecord {
  std::string serial;
  std::string subject;
  std::string role;
  int64_t issued_ms = 0;
  int64_t not_after_ms = 0;
  int64_t revoked_ms = 0;
};

struct RunSpec {
  std::string run_id;
  v1::Plan plan;
  std::map<std::string, std::string> params;  // resolved; secret params hold secret names
  std::vector<std::string> endpoint_ids;      // ignored when all_endpoints
  bool all_endpoints = false;
  std::string created_by;
  int64_t now_ms = 0;
  v1::RebootPolicy reboot_policy;
  std::map<std::string, std::string> artifacts;  // name -> sha256, resolved at start
};

// A job handed to an agent, before the server fills in secret values.
struct LeasedJob {
  v1::Job job;                                // params are the run's raw params
  std::map<std::string, std::string> params;  // same, as a map
  std::string plan_name;
  v1::PlanPurpose purpose = v1::PLAN_PURPOSE_UNSPECIFIED;
};

struct LeaseResult {
  std::optional<LeasedJob> job;
  int64_t retry_after_ms = 0;  // when a queued job waits for its backoff or a window
  bool reboot = false;         // reboot first: a step asked for it and the policy allows it now
};

struct ReportAck {
  bool duplicate = false;
  bool stale = false;
};

struct EndpointFilter {
  v1::EndpointState state = v1::ENDPOINT_STATE_UNSPECIFIED;
  v1::OsProduct product = v1::OS_PRODUCT_UNSPECIFIED;
  std::map<std::string, std::string> labels;
  std::string campaign_id;
  int64_t not_seen_since_ms = 0;
  int page_size = 100;
  std::string page_token;  // the last id of the previous page
};

struct EndpointPage {
  std::vector<v1::Endpoint> endpoints;
  std::string next_page_token;
};

// Endpoints per state, for the filters of an EndpointFilter (paging ignored).
using StateCounts = std::map<v1::EndpointState, int64_t>;
// Endpoints per (state, OS product).
using StateOsCounts = std::map<std::pair<v1::EndpointState, v1::OsProduct>, int64_t>;

// What ExpireLeases did.
struct ExpiredLeases {
  int64_t expired = 0;                // leases marked TIMED_OUT
  std::vector<std::string> requeued;  // endpoints that have work again
};

// What the store has done since it opened, and holds.
struct StoreStats {
  int64_t transactions = 0;  // committed write transactions
  int64_t writes = 0;        // writes in them
  int64_t endpoints = 0;
};

struct StoreOptions {
  // Extra time past a step's timeout before its lease expires.
  int64_t lease_grace_ms = 30'000;
  // An endpoint not seen for this long is offline.
  int64_t offline_after_ms = 180'000;
  // Told of every group commit of the writer: how long its transaction took
  // (BEGIN to durable COMMIT) and how many writes it held. Runs on the writer
  // thread: it must be quick.
  std::function<void(double seconds, int writes)> on_commit;
};

class Store {
 public:
  virtual ~Store() = default;

  // Enrollment tokens.
  virtual absl::Status CreateToken(const TokenRecord& token, int64_t now_ms) = 0;
  // Consumes one use of the token and creates (or re-keys) the endpoint, atomically.
  // PERMISSION_DENIED names why a token is refused: unknown, wrong secret,
  // expired, used up. Returns the new endpoint.
  // A REVOKED endpoint's key is refused unless the token readmits it.
  virtual absl::StatusOr<v1::Endpoint> Enroll(const EnrollArgs& args) = 0;
  // Whether the token would be accepted now, without using it: checked before
  // any work is done for an enrollment (the CSR is not signed for a bad token).
  virtual absl::Status CheckToken(const std::string& token_id, const std::string& secret_hash,
                                  int64_t now_ms) = 0;

  // Endpoints.
  // Records inventory and last-seen; classifies an unsupported OS. Returns the state.
  virtual absl::StatusOr<v1::Endpoint> CheckIn(const std::string& endpoint_id,
                                               const v1::Inventory& inventory, int64_t now_ms) = 0;
  virtual absl::StatusOr<v1::Endpoint> GetEndpoint(const std::string& id, int64_t now_ms) = 0;
  virtual absl::StatusOr<EndpointPage> ListEndpoints(const EndpointFilter& filter,
                                                     int64_t now_ms) = 0;
  virtual absl::StatusOr<StateCounts> CountEndpoints(const EndpointFilter& filter) = 0;
  // Every endpoint, counted per (state, OS product) in one query.
  virtual absl::StatusOr<StateOsCounts> CountEndpointsByStateAndOs() = 0;
  virtual absl::StatusOr<StoreStats> Stats() = 0;
  // Sets and removes labels; returns the endpoint.
  virtual absl::StatusOr<v1::Endpoint> SetLabels(const std::string& id,
                                                 const std::map<std::string, std::string>& set,
                                                 const std::vector<std::string>& remove,
                                                 int64_t now_ms) = 0;
  // Marks endpoints seen at `now_ms` (batched: the server flushes its in-memory view).
  virtual absl::Status TouchEndpoints(const std::vector<std::string>& ids, int64_t now_ms) = 0;
  // Jobs of the endpoint's current run (all runs if it has none), in order.
  virtual absl::StatusOr<std::vector<v1::JobInfo>> ListJobs(const std::string& endpoint_id) = 0;

  // Runs and jobs.
  virtual absl::StatusOr<v1::StartRunResponse> StartRun(const RunSpec& spec) = 0;
  // The endpoint's next job: its current lease again (extended) if it holds
  // one, else its first queued job whose backoff has passed, leased now.
  virtual absl::StatusOr<LeaseResult> LeaseNextJob(const std::string& endpoint_id,
                                                   int64_t now_ms) = 0;
  // Applies a report once per (job, attempt). PERMISSION_DENIED when the job
  // is not the endpoint's; NOT_FOUND when it does not exist.
  virtual absl::StatusOr<ReportAck> RecordReport(const std::string& endpoint_id,
                                                 const v1::ReportResultRequest& report,
                                                 int64_t now_ms) = 0;
  // Lets endpoints waiting under an operator reboot policy reboot; returns how many wait.
  virtual absl::StatusOr<int> AllowReboot(const std::vector<std::string>& ids) = 0;
  // Marks expired leases TIMED_OUT (a failed attempt); requeues those with
  // attempts left.
  virtual absl::StatusOr<ExpiredLeases> ExpireLeases(int64_t now_ms) = 0;

  // Onboarded endpoints last found onboarded before `before_ms`, with the
  // onboarding run that got them there: due for re-verification.
  struct DueVerify {
    std::string endpoint_id;
    std::string plan_name;
    std::string plan_sha256;  // the version that run started with ("" before versions)
    std::map<std::string, std::string> params;  // as stored (secrets by reference)
  };
  virtual absl::StatusOr<std::vector<DueVerify>> DueForVerify(int64_t before_ms, int limit) = 0;
  // The onboarding run that last applied to a drifted endpoint, to run it again.
  virtual absl::StatusOr<std::vector<DueVerify>> Drifted(int limit) = 0;

  // How a run ended on an endpoint, from its own jobs (whatever the endpoint
  // ran since): JOB_STATE_SUCCEEDED, FAILED, TIMED_OUT, BLOCKED or CANCELLED;
  // JOB_STATE_UNSPECIFIED while it still runs.
  struct RunEnd {
    v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
    v1::ErrorClass error_class = v1::ERROR_CLASS_UNSPECIFIED;
    std::string detail;
  };
  virtual absl::StatusOr<RunEnd> RunOutcome(const std::string& run_id,
                                            const std::string& endpoint_id) = 0;

  // Withdraws a run from an endpoint: queued and pending steps are cancelled; a
  // step already leased finishes and nothing follows it.
  virtual absl::Status CancelRun(const std::string& run_id, const std::string& endpoint_id,
                                 int64_t now_ms) = 0;

  // Campaigns. The spec is stored whole; members carry their own state.
  virtual absl::Status CreateCampaign(const v1::Campaign& campaign,
                                      const std::vector<v1::CampaignMember>& members) = 0;
  virtual absl::StatusOr<std::vector<v1::Campaign>> ListCampaigns() = 0;
  virtual absl::StatusOr<std::vector<v1::CampaignMember>> ListMembers(
      const std::string& campaign_id) = 0;
  // Saves the campaign's state and the given members (inserted or updated).
  virtual absl::Status SaveCampaign(const v1::Campaign& campaign,
                                    const std::vector<v1::CampaignMember>& members) = 0;

  // Plan versions, by the SHA-256 of their content (PlanDigest). Every run
  // keeps the version it started with.
  virtual absl::StatusOr<std::string> PutPlanVersion(const v1::Plan& plan, int64_t now_ms) = 0;
  virtual absl::StatusOr<v1::Plan> GetPlanVersion(const std::string& sha256) = 0;

  // Certificates.
  virtual absl::Status RecordCert(const CertRecord& cert) = 0;
  virtual absl::StatusOr<std::vector<CertRecord>> ListCerts() = 0;
  // Marks a certificate revoked. An agent certificate revokes its endpoint:
  // every certificate issued to it (renewed ones too) and the endpoint becomes
  // REVOKED. Returns the named certificate first, then the others revoked with
  // it. NOT_FOUND if unknown.
  virtual absl::StatusOr<std::vector<CertRecord>> RevokeCert(const std::string& serial,
                                                             int64_t now_ms) = 0;

  // The audit log: appended to, never changed.
  virtual absl::Status AppendAudit(const v1::AuditEntry& entry) = 0;
  // The result of a call whose row committed with its first change (an
  // AuditScope) but which failed later: the row says so.
  virtual absl::Status SetAuditResult(int64_t row_id, int32_t code, const std::string& message) = 0;
  virtual absl::StatusOr<v1::ListAuditResponse> ListAudit(const v1::ListAuditRequest& req) = 0;
  // State changes and step results of an endpoint, oldest first.
  virtual absl::StatusOr<std::vector<v1::HistoryEntry>> History(const std::string& endpoint_id) = 0;

  // Artifacts (the bytes live beside the store, by SHA-256).
  virtual absl::Status PutArtifact(const v1::ArtifactInfo& info) = 0;
  virtual absl::StatusOr<std::vector<v1::ArtifactInfo>> ListArtifacts() = 0;

  // Secrets, sealed by the caller; the store never sees plaintext.
  virtual absl::Status PutSecret(const std::string& name, const std::string& sealed,
                                 int64_t now_ms) = 0;
  virtual absl::StatusOr<std::string> GetSealedSecret(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListSecretNames() = 0;
  // Replaces every sealed secret with reseal(name, sealed), in one
  // transaction: all of them, or none when one fails (its error is returned).
  // For a new secrets key. Returns how many were re-sealed.
  using ResealFn = std::function<absl::StatusOr<std::string>(const std::string& name,
                                                             const std::string& sealed)>;
  virtual absl::StatusOr<int> ResealSecrets(const ResealFn& reseal, int64_t now_ms) = 0;
};

}  // namespace purser::db
