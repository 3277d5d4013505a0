// What the services share: the store, the CA, authorization, secrets, the
// long-poll registry and the work pool. Owned by Server.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "db/store.h"
#include "grpcpp/support/status.h"
#include "server/artifacts.h"
#include "server/authz.h"
#include "server/ca.h"
#include "server/secrets.h"
#include "server/server_cert.h"
#include "server/waiters.h"
#include "shared/clock.h"
#include "shared/work_queue.h"

namespace purser::server {

struct ServerOptions {
  std::string data_dir;
  std::string listen = "127.0.0.1:0";
  std::string plans_dir;
  std::string port_file;           // written with the bound port once serving
  std::vector<std::string> names;  // extra names for the server certificate
  int64_t lease_grace_ms = 30'000;
  int64_t offline_after_ms = 180'000;
  int64_t agent_cert_seconds = kAgentCertSeconds;
  int max_wait_seconds = 30;       // longest long poll
  int poll_interval_seconds = 30;  // told to agents
  // Workers wait on the SQLite writer; more of them make bigger commit groups.
  int workers = 16;
  // New calls waiting for a worker beyond this are refused (RESOURCE_EXHAUSTED)
  // instead of queuing without bound.
  size_t max_queued_calls = 50'000;
  int64_t campaign_tick_ms = 500;                  // how often campaigns are moved along
  int64_t reverify_every_ms = 24LL * 3600 * 1000;  // drift checks of onboarded endpoints (0: off)
  bool remediate_drift = false;                    // onboard drifted endpoints again
  // A connection outlives the certificate checks of its handshake: it is
  // closed after this long (0: never) and re-established by the peer.
  int64_t max_connection_age_ms = 3600 * 1000;
  int64_t max_connection_idle_ms = 300 * 1000;  // no call for this long (0: never)
  // Prometheus metrics over plain HTTP at /metrics ("": none; port 0 picks
  // one), and the file the bound port is written to once serving.
  std::string metrics_listen;
  std::string metrics_port_file;
  // Key custody (docs/key-custody.md): where the secrets key lives ("" :
  // <data_dir>/secrets.key), and the server certificate's lifetime and
  // renewal margin (0: a third of the lifetime).
  std::string secrets_key_file;
  int64_t server_cert_seconds = 2LL * 365 * 24 * 3600;
  int64_t server_cert_renew_before_seconds = 0;
};

class RpcMetrics;  // rpc_metrics.h

struct ServerCore {
  ServerOptions options;
  Clock* clock = RealClock::Get();
  int64_t started_ms = 0;
  std::unique_ptr<db::Store> store;
  std::unique_ptr<CertificateAuthority> ca;
  std::unique_ptr<SecretBox> secrets;
  // The server's TLS certificate, renewed in place; current() for its expiry.
  std::unique_ptr<ServerCertificate> server_cert;
  std::unique_ptr<ArtifactStore> artifacts;
  // The loaded plans, by name. Replaced whole when one is uploaded, so a
  // reader keeps a consistent set for as long as it holds the pointer.
  using PlanMap = std::map<std::string, v1::Plan>;
  std::shared_ptr<const PlanMap> Plans() const;
  void SetPlans(PlanMap plans);
  // Adds or replaces one plan.
  void PutPlan(const v1::Plan& plan);
  Authorizer authz;
  Waiters waiters;
  std::unique_ptr<WorkQueue> pool;
  RpcMetrics* rpc_metrics = nullptr;  // owned by Server; null: calls are not counted

  // Endpoints seen since the last flush to the store.
  void Seen(const std::string& endpoint_id);
  std::vector<std::string> TakeSeen();
  // Wakes the long poll of each endpoint, if it has one, to look for work.
  void Notify(const std::vector<std::string>& endpoint_ids);

 private:
  mutable absl::Mutex plans_mu_;
  std::shared_ptr<const PlanMap> plans_ ABSL_GUARDED_BY(plans_mu_) = std::make_shared<PlanMap>();
  absl::Mutex seen_mu_;
  absl::flat_hash_set<std::string> seen_ ABSL_GUARDED_BY(seen_mu_);
};

grpc::Status ToGrpc(const absl::Status& status);
// A new call refused because the work queue is full (the caller backs off).
grpc::Status ServerBusy();

}  // namespace purser::server
