// Campaigns: creation, operator actions, and the scheduler thread that moves
// every campaign along its policy (rollout.h) twice a second. All state is in
// the store, so a restarted server continues where it was.
#pragma once
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "purser/v1/operator.pb.h"
#include "server/core.h"
#include "server/rollout.h"

namespace purser::server {

class CampaignWatch;  // a WatchCampaign stream

class Campaigns {
 public:
  explicit Campaigns(ServerCore* core, int64_t tick_ms = 500);
  // Stops the scheduler and ends open watches. Call before the gRPC server
  // shuts down; destroy only after it has (watches unregister as they end).
  void Stop();
  ~Campaigns() { Stop(); }

  absl::StatusOr<v1::Campaign> Create(const v1::CreateCampaignRequest& req, const std::string& by);
  absl::StatusOr<v1::GetCampaignResponse> Get(const std::string& id);
  absl::StatusOr<std::vector<v1::Campaign>> List();
  absl::StatusOr<v1::Campaign> Act(const v1::ActOnCampaignRequest& req);
  // One scheduler pass over every campaign (the thread calls it; tests may too).
  void Tick();

  // Watch streams register here and are pushed every change.
  grpc::ServerWriteReactor<v1::Campaign>* Watch(grpc::CallbackServerContext* ctx,
                                                const v1::GetCampaignRequest* req);
  void Unregister(CampaignWatch* w);
  // Ends the watches opened with certificate `serial` (it was revoked).
  void CloseWatchesOf(const std::string& serial);

 private:
  absl::StatusOr<v1::Campaign> Load(const std::string& id);
  absl::StatusOr<EndpointMap> Endpoints();
  // Moves one campaign; serialised with operator actions by mu_.
  absl::Status Advance(v1::Campaign campaign, const EndpointMap& endpoints)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The plan version the campaign was created with.
  absl::StatusOr<v1::Plan> PinnedPlan(v1::Campaign* campaign);
  absl::Status Withdraw(const v1::Campaign& c, std::vector<v1::CampaignMember>* members);
  void Publish(const v1::Campaign& campaign);

  ServerCore* core_;
  absl::Mutex mu_;  // one campaign change at a time
  absl::Mutex watch_mu_;
  std::multimap<std::string, CampaignWatch*> watches_ ABSL_GUARDED_BY(watch_mu_);
  std::map<std::string, std::string> published_ ABSL_GUARDED_BY(watch_mu_);  // last pushed, by id
  absl::Mutex stop_mu_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

}  // namespace purser::server
