#include "server/server.h"

#include "absl/strings/str_cat.h"
#include "db/sqlite/sqlite_store.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/server_builder.h"
#include "server/data_dir.h"
#include "server/secrets_key.h"
#include "shared/dir_lock.h"
#include "shared/disk_full.h"
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
  // One server per data directory for its whole life; restore checks the same lock.
  if (!PathExists(options.data_dir)) RETURN_IF_ERROR(CheckNoUnfinishedRestore(options.data_dir));
  RETURN_IF_ERROR(MakeDirs(options.data_dir, 0700));
  ASSIGN_OR_RETURN(s->dir_lock_, DirLock::Acquire(options.data_dir));
  RETURN_IF_ERROR(ServerCertificate::CheckLifetime(options.server_cert_seconds,
                                                   options.server_cert_renew_before_seconds));
  DataDirOptions dir_options;
  dir_options.extra_names = options.names;
  dir_options.secrets_key_file = options.secrets_key_file;
  dir_options.server_cert_seconds = options.server_cert_seconds;
  ASSIGN_OR_RETURN(DataDir dir, OpenOrInitDataDir(options.data_dir, dir_options));
  if (dir.created) LogInfo("initialised data directory %s", options.data_dir);
  db::StoreOptions store_options;
  store_options.lease_grace_ms = options.lease_grace_ms;
  store_options.offline_after_ms = options.offline_after_ms;
  s->metrics_ = std::make_unique<ServerMetrics>();
  core.rpc_metrics = s->metrics_->rpc();
  store_options.on_commit = [m = s->metrics_.get()](double seconds, int writes) {
    m->ObserveCommit(seconds, writes);
  };
  ASSIGN_OR_RETURN(auto store, db::SqliteStore::Open(dir.db_path, dir.created, store_options));
  core.store = std::move(store);
  core.ca = std::make_unique<CertificateAuthority>(dir.issuer_cert_pem, dir.ca_key_pem,
                                                   dir.ca_cert_pem, dir.intermediates_pem);
  core.authz.SetIssuer(dir.issuer_cert_pem);
  ASSIGN_OR_RETURN(std::string secrets_key,
                   RecoverSecretsKey(dir.secrets_key_path, dir.secrets_key, core.store.get()));
  core.secrets =
      std::make_unique<SecretBox>(std::move(secrets_key), core.store.get(), dir.secrets_key_path);
  if (absl::Status st = core.secrets->RegisterAll(); !st.ok()) {  // redacted from here on
    return absl::FailedPreconditionError(absl::StrCat(
        "the secrets key in ", dir.secrets_key_path,
        " does not open the stored secrets (is it this database's key?): ", st.message()));
  }
  // Renewed now if it expired while the server was down; the TLS layer reads the files.
  core.server_cert = std::make_unique<ServerCertificate>(dir, options.server_cert_seconds,
                                                         options.server_cert_renew_before_seconds,
                                                         options.names, core.clock);
  RETURN_IF_ERROR(core.server_cert->RenewIfDue().status());
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
  s->metrics_->Watch(&core);
  if (!options.metrics_listen.empty()) {
    ASSIGN_OR_RETURN(s->metrics_http_,
                     MetricsHttpServer::Start(options.metrics_listen,
                                              [m = s->metrics_.get()] { return m->Render(); }));
    if (!s->metrics_http_->loopback()) {
      LogWarning("metrics on %s are served to anyone who can reach it, without authentication",
                 options.metrics_listen);
    }
    if (!options.metrics_port_file.empty()) {
      RETURN_IF_ERROR(
          WriteFileAtomic(options.metrics_port_file, absl::StrCat(s->metrics_http_->port(), "\n")));
    }
    LogInfo("metrics on port %d at /metrics", s->metrics_http_->port());
  }

  s->agent_service_ = std::make_unique<AgentServiceImpl>(&core);
  s->campaigns_ = std::make_unique<Campaigns>(&core, options.campaign_tick_ms);
  s->drift_ = std::make_unique<DriftChecker>(&core);
  s->operator_service_ = std::make_unique<OperatorServiceImpl>(&core, s->campaigns_.get());
  // The TLS layer reads server.pem again every few seconds: a renewed
  // certificate is served to new connections, and open ones go on.
  auto tls_files = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      dir.server_key_path(), dir.server_cert_path(), dir.client_trust_path(),
      static_cast<unsigned>(core.server_cert->check_every_seconds()));
  grpc::experimental::TlsServerCredentialsOptions tls(tls_files);
  tls.watch_root_certs();
  tls.watch_identity_key_cert_pairs();
  tls.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::experimental::TlsServerCredentials(tls),
                           &s->port_);
  builder.RegisterService(s->agent_service_.get());
  builder.RegisterService(s->operator_service_.get());
  // Every call of every service passes the metrics' interceptor (rpc_metrics.h).
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(s->metrics_->rpc()->InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
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
  int64_t last_leases = 0, last_flush = 0, last_drift = 0, last_cert = core_.clock->NowMs();
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
        core_.Notify(requeued->requeued);
        metrics_->LeasesExpired(requeued->expired);
      } else {
        // A full disk is logged once, by the store.
        if (!IsDiskFull(requeued.status())) {
          LogError("expiring leases: %s", requeued.status().ToString());
        }
      }
    }
    if (now - last_drift >= std::min<int64_t>(60'000, core_.options.reverify_every_ms / 2 + 1)) {
      last_drift = now;
      drift_->Tick();
    }
    if (now - last_cert >= core_.server_cert->check_every_seconds() * 1000) {
      last_cert = now;
      if (auto renewed = core_.server_cert->RenewIfDue(); !renewed.ok()) {
        LogError("renewing the server certificate: %s", renewed.status().ToString());
      }
    }
    if (now - last_flush >= 5000) {
      last_flush = now;
      std::vector<std::string> seen = core_.TakeSeen();
      for (auto& e : core_.waiters.Endpoints()) seen.push_back(std::move(e));
      absl::Status st = core_.store->TouchEndpoints(seen, now);
      if (!st.ok() && !IsDiskFull(st)) LogError("recording last-seen: %s", st.ToString());
    }
  }
}

void Server::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (metrics_http_) metrics_http_->Stop();  // scrapes read the store: none from here on
  if (!grpc_server_) return;                 // never started serving: nothing to drain
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

absl::Status Server::ReloadPlans() {
  if (core_.options.plans_dir.empty()) return absl::OkStatus();
  size_t count = 0;
  RETURN_IF_ERROR(ReloadPlanDir(core_.options.plans_dir, [&](ServerCore::PlanMap plans) {
    count = plans.size();
    core_.SetPlans(std::move(plans));
  }));
  LogInfo("reloaded %d plans from %s", static_cast<int>(count), core_.options.plans_dir);
  return absl::OkStatus();
}

Server::~Server() { Shutdown(); }

}  // namespace purser::server
