#include "server/server.h"

#include "absl/strings/str_cat.h"
#include "db/sqlite/sqlite_store.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/data_dir.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/logging.h"
#include "shared/plan/plan_loader.h"
#include "shared/status_macros.h"
#include "shared/x509.h"

namespace purser::server {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status ServerBusy() {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      "server busy: too many requests queued; retry later");
}

std::shared_ptr<const ServerCore::PlanMap> ServerCore::Plans() const {
  absl::MutexLock lock(&plans_mu_);
  return plans_;
}

void ServerCore::SetPlans(PlanMap plans) {
  auto next = std::make_shared<const PlanMap>(std::move(plans));
  absl::MutexLock lock(&plans_mu_);
  plans_ = std::move(next);
}

void ServerCore::PutPlan(const v1::Plan& plan) {
  absl::MutexLock lock(&plans_mu_);
  auto next = std::make_shared<PlanMap>(*plans_);
  (*next)[plan.name()] = plan;
  plans_ = std::move(next);
}

void ServerCore::Seen(const std::string& endpoint_id) {
  absl::MutexLock lock(&seen_mu_);
  seen_.insert(endpoint_id);
}

std::vector<std::string> ServerCore::TakeSeen() {
  absl::MutexLock lock(&seen_mu_);
  std::vector<std::string> out(seen_.begin(), seen_.end());
  seen_.clear();
  return out;
}

void ServerCore::Notify(const std::vector<std::string>& endpoint_ids) {
  for (const auto& id : endpoint_ids) {
    if (WaitReactor* r = waiters.TakeEndpoint(id)) {
      pool->Submit([this, r] { ProcessWait(this, r); });
    }
  }
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  std::unique_ptr<Server> s(new Server());
  ServerCore& core = s->core_;
  core.options = options;
  core.started_ms = core.clock->NowMs();
  ASSIGN_OR_RETURN(DataDir dir, OpenOrInitDataDir(options.data_dir, options.names));
  if (dir.created) LogInfo("initialised data directory %s", options.data_dir);
  db::StoreOptions store_options;
  store_options.lease_grace_ms = options.lease_grace_ms;
  store_options.offline_after_ms = options.offline_after_ms;
  ASSIGN_OR_RETURN(auto store, db::SqliteStore::Open(dir.db_path, dir.created, store_options));
  core.store = std::move(store);
  core.ca = std::make_unique<CertificateAuthority>(dir.ca_cert_pem, dir.ca_key_pem);
  core.secrets = std::make_unique<SecretBox>(dir.secrets_key, core.store.get());
  RETURN_IF_ERROR(core.secrets->RegisterAll());  // redacted from the first log line on
  core.artifacts =
      std::make_unique<ArtifactStore>(options.data_dir + "/artifacts", core.store.get());
  RETURN_IF_ERROR(core.artifacts->Init());
  if (!options.plans_dir.empty()) {
    ASSIGN_OR_RETURN(auto plans, LoadPlanDir(options.plans_dir));
    core.SetPlans(std::move(plans));
  }
  if (dir.created) {  // the first admin's certificate is listed and revocable like any other
    ASSIGN_OR_RETURN(std::string admin_pem, ReadFile(options.data_dir + "/admin.pem"));
    ASSIGN_OR_RETURN(CertInfo admin, ParseCert(admin_pem));
    RETURN_IF_ERROR(
        core.store->RecordCert({admin.serial_hex, admin.common_name, admin.organizational_unit,
                                core.clock->NowMs(), admin.not_after_ms, 0}));
  }
  ASSIGN_OR_RETURN(auto certs, core.store->ListCerts());
  for (const auto& c : certs) {
    if (c.revoked_ms != 0) core.authz.Revoke(c.serial);
  }
  core.pool = std::make_unique<WorkQueue>(options.workers, options.max_queued_calls);

  s->agent_service_ = std::make_unique<AgentServiceImpl>(&core);
  s->campaigns_ = std::make_unique<Campaigns>(&core, options.campaign_tick_ms);
  s->drift_ = std::make_unique<DriftChecker>(&core);
  s->operator_service_ = std::make_unique<OperatorServiceImpl>(&core, s->campaigns_.get());
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = dir.ca_cert_pem;
  ssl.pem_key_cert_pairs.push_back({dir.server_key_pem, dir.server_cert_pem});
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::SslServerCredentials(ssl), &s->port_);
  builder.RegisterService(s->agent_service_.get());
  builder.RegisterService(s->operator_service_.get());
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 120 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 30 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 100);
  if (options.max_connection_age_ms > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               static_cast<int>(options.max_connection_age_ms));
    // Calls in flight (a long poll, a download) get this long to finish.
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               std::max(60'000, options.max_wait_seconds * 2000));
  }
  if (options.max_connection_idle_ms > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                               static_cast<int>(options.max_connection_idle_ms));
  }
  s->grpc_server_ = builder.BuildAndStart();
  if (!s->grpc_server_ || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  if (!options.port_file.empty()) {
    RETURN_IF_ERROR(WriteFileAtomic(options.port_file, absl::StrCat(s->port_, "\n")));
  }
  s->sweeper_ = std::thread([srv = s.get()] { srv->Sweep(); });
  LogInfo("serving on port %d (%d plans loaded)", s->port_, static_cast<int>(core.Plans()->size()));
  return s;
}

void Server::Sweep() {
  int64_t last_leases = 0, last_flush = 0, last_drift = 0;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(200))) return;
    }
    int64_t now = core_.clock->NowMs();
    for (WaitReactor* r : core_.waiters.TakeExpired(now)) FinishEmpty(r);
    if (now - last_leases >= 1000) {
      last_leases = now;
      auto requeued = core_.store->ExpireLeases(now);
      if (requeued.ok()) {
        core_.Notify(*requeued);
      } else {
        LogError("expiring leases: %s", requeued.status().ToString());
      }
    }
    if (now - last_drift >= std::min<int64_t>(60'000, core_.options.reverify_every_ms / 2 + 1)) {
      last_drift = now;
      drift_->Tick();
    }
    if (now - last_flush >= 5000) {
      last_flush = now;
      std::vector<std::string> seen = core_.TakeSeen();
      for (auto& e : core_.waiters.Endpoints()) seen.push_back(std::move(e));
      absl::Status st = core_.store->TouchEndpoints(seen, now);
      if (!st.ok()) LogError("recording last-seen: %s", st.ToString());
    }
  }
}

void Server::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (!grpc_server_) return;  // never started serving: nothing to drain
  if (sweeper_.joinable()) sweeper_.join();
  campaigns_->Stop();
  // Long polls end first so the gRPC shutdown does not wait for them; none
  // parks from now on (a queued poll finishes at once).
  core_.waiters.Close();
  for (WaitReactor* r : core_.waiters.TakeAll()) FinishEmpty(r);
  grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  core_.pool.reset();  // runs what is queued
  campaigns_.reset();
  core_.store->TouchEndpoints(core_.TakeSeen(), core_.clock->NowMs()).IgnoreError();
  core_.store.reset();  // drains the writer
  LogInfo("stopped");
}

Server::~Server() { Shutdown(); }

}  // namespace purser::server
