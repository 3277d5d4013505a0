// The Purser control server: opens (or initialises) the data directory, loads
// plans, serves the agent and operator services on one TLS port (client
// certificates verified when presented; every method but Enroll requires one),
// and runs the sweeper that expires leases and long polls.
#pragma once
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"
#include "server/agent_service.h"
#include "server/core.h"
#include "server/drift.h"
#include "server/metrics_http.h"
#include "server/operator_service.h"
#include "server/server_metrics.h"
#include "shared/dir_lock.h"

namespace purser::server {

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  // Graceful: ends long polls, finishes in-flight calls and writes, closes the store.
  ~Server();
  void Shutdown();
  // Loads the plans directory again and serves its plans; on an error (it names
  // the file) the plans loaded before stay.
  absl::Status ReloadPlans();
  int port() const { return port_; }
  // The metrics endpoint's port (0: none).
  int metrics_port() const { return metrics_http_ ? metrics_http_->port() : 0; }
  ServerCore* core() { return &core_; }

 private:
  Server() = default;
  void Sweep();

  std::unique_ptr<DirLock> dir_lock_;  // released last
  // Outlives the store: its writer reports group commits here until it stops.
  std::unique_ptr<ServerMetrics> metrics_;
  ServerCore core_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  std::unique_ptr<AgentServiceImpl> agent_service_;
  std::unique_ptr<Campaigns> campaigns_;
  std::unique_ptr<DriftChecker> drift_;
  std::unique_ptr<OperatorServiceImpl> operator_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int port_ = 0;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sweeper_;
};

}  // namespace purser::server
