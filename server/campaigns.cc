#include "server/campaigns.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "server/access.h"
#include "server/audit.h"
#include "server/rollout.h"
#include "server/runs.h"
#include "shared/crypto.h"
#include "shared/disk_full.h"
#include "shared/logging.h"
#include "shared/plan/effective_plan.h"

namespace purser::server {

// A WatchCampaign stream: the newest progress is written; older unsent ones
// are dropped (a watcher wants where things stand, not every step between).
class CampaignWatch : public grpc::ServerWriteReactor<v1::Campaign> {
 public:
  CampaignWatch(Campaigns* owner, std::string id) : owner_(owner), id_(std::move(id)) {}
  const std::string& id() const { return id_; }
  Caller caller;  // the watcher, set before it is registered
  void Push(const v1::Campaign& c) {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    next_ = c;
    has_next_ = true;
    if (!writing_) WriteLocked();
  }
  // Ends the stream with `st` once the write in flight, if any, is done.
  // Finish is the last thing done with the watch: OnDone may free it at once,
  // so it is called with no lock of the watch's held.
  void End(const grpc::Status& st) {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      finish = EndLocked(st);
    }
    if (finish) Finish(*finish);
  }
  // The setup task is done with the watch (registered, first state pushed):
  // from now on a cancel ends it here. Before, the setup task still uses it.
  void Started() {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      started_ = true;
      if (cancelled_) finish = EndLocked(Gone());
    }
    if (finish) Finish(*finish);
  }
  void OnCancel() override {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      if (started_) finish = EndLocked(Gone());
    }
    if (finish) Finish(*finish);
  }
  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok && !finishing_) {
        finishing_ = true;
        finish = Gone();
      } else if (has_next_ && !finishing_) {
        WriteLocked();
      } else if (finishing_ && !done_written_) {
        done_written_ = true;
        finish = end_status_;
      } else if (!finishing_ && IsFinal(current_.state())) {
        finishing_ = true;
        finish = grpc::Status::OK;
      }
    }
    if (finish) Finish(*finish);
  }
  void OnDone() override {
    owner_->Unregister(this);
    delete this;
  }

 private:
  static grpc::Status Gone() {
    return grpc::Status(grpc::StatusCode::CANCELLED, "watcher went away");
  }
  // The status to finish with now, if the stream should end now.
  std::optional<grpc::Status> EndLocked(const grpc::Status& st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_) return std::nullopt;
    finishing_ = true;
    end_status_ = st;
    if (writing_) return std::nullopt;  // OnWriteDone finishes
    done_written_ = true;
    return st;
  }
  void WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_ = next_;
    has_next_ = false;
    writing_ = true;
    StartWrite(&current_);
  }
  Campaigns* owner_;
  std::string id_;
  absl::Mutex mu_;
  v1::Campaign current_ ABSL_GUARDED_BY(mu_), next_ ABSL_GUARDED_BY(mu_);
  bool has_next_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_written_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status end_status_ ABSL_GUARDED_BY(mu_);
};

Campaigns::Campaigns(ServerCore* core, int64_t tick_ms) : core_(core) {
  thread_ = std::thread([this, tick_ms] {
    while (true) {
      {
        absl::MutexLock lock(&stop_mu_);
        if (stop_mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(tick_ms))) {
          return;
        }
      }
      Tick();
    }
  });
}

void Campaigns::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  thread_.join();
  absl::MutexLock lock(&watch_mu_);
  for (auto& [id, w] : watches_) {
    w->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
  }
}

absl::StatusOr<EndpointMap> Campaigns::Endpoints() {
  EndpointMap out;
  db::EndpointFilter f;
  f.page_size = 1000;
  while (true) {
    auto page = core_->store->ListEndpoints(f, core_->clock->NowMs());
    if (!page.ok()) return page.status();
    for (auto& e : page->endpoints) out.emplace(e.id(), std::move(e));
    if (page->next_page_token.empty()) return out;
    f.page_token = page->next_page_token;
  }
}

absl::StatusOr<v1::Campaign> Campaigns::Load(const std::string& id) {
  auto all = core_->store->ListCampaigns();
  if (!all.ok()) return all.status();
  for (auto& c : *all) {
    if (c.id() == id) return c;
  }
  return absl::NotFoundError(absl::StrCat("campaign ", id, " not found"));
}

absl::StatusOr<v1::Campaign> Campaigns::Create(const v1::CreateCampaignRequest& req,
                                               const std::string& by) {
  auto plans = core_->Plans();
  auto plan = plans->find(req.plan_name());
  if (plan == plans->end()) {
    return absl::NotFoundError(absl::StrCat("plan_name: no plan \"", req.plan_name(), "\""));
  }
  if (req.name().empty()) return absl::InvalidArgumentError("name: required");
  auto params = ResolveParams(plan->second, {req.params().begin(), req.params().end()});
  if (!params.ok()) return params.status();
  if (absl::Status st = CheckSecretParams(core_, plan->second, *params); !st.ok()) return st;
  const v1::RolloutPolicy& p = req.policy();
  if (p.max_in_flight() < 0 || p.start_per_minute() < 0 || p.canary_count() < 0) {
    return absl::InvalidArgumentError("policy: counts must be >= 0");
  }
  for (int i = 0; i < p.waves_size(); ++i) {
    if (p.waves(i).percent() < 0 || p.waves(i).percent() > 100 || p.waves(i).count() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy.waves[", i, "]: percent 0..100, count >= 0"));
    }
  }
  auto endpoints = Endpoints();
  if (!endpoints.ok()) return endpoints.status();
  std::vector<std::string> ids(req.target().endpoint_ids().begin(),
                               req.target().endpoint_ids().end());
  bool criteria =
      req.target().labels_size() + req.target().products_size() + req.target().editions_size() >
          0 ||
      req.target().arch() != v1::ARCH_UNSPECIFIED || req.target().dynamic();
  if (criteria || ids.empty()) {
    for (const auto& [id, e] : *endpoints) {
      if (MatchesTarget(req.target(), e)) ids.push_back(id);
    }
  }
  if (req.target().dynamic_cap() > 0 && static_cast<int>(ids.size()) > req.target().dynamic_cap()) {
    ids.resize(req.target().dynamic_cap());
  }
  v1::Campaign c;
  c.set_id(absl::StrCat("c-", RandomHex(8)));
  c.set_name(req.name());
  c.set_plan_name(req.plan_name());
  // Pinned: the waves after the canary run what the canary ran.
  c.set_plan_sha256(PlanDigest(plan->second));
  *c.mutable_params() = req.params();
  *c.mutable_target() = req.target();
  *c.mutable_policy() = req.policy();
  c.set_state(v1::CAMPAIGN_STATE_RUNNING);
  c.set_state_reason(p.canary_count() > 0 ? "canary started" : "wave 1 started");
  c.set_current_wave(p.canary_count() > 0 ? 0 : 1);
  c.set_created_unix_ms(core_->clock->NowMs());
  c.set_created_by(by);
  std::set<std::string> runnable;
  for (const auto& id : ids) {
    auto e = endpoints->find(id);
    if (e != endpoints->end() && WillRun(plan->second, *params, e->second)) runnable.insert(id);
  }
  std::vector<v1::CampaignMember> members = AssignWaves(ids, p, runnable);
  if (members.empty() && !req.target().dynamic()) {
    return absl::FailedPreconditionError("target: no endpoint matches");
  }
  auto pinned = core_->store->PutPlanVersion(plan->second, core_->clock->NowMs());
  if (!pinned.ok()) return pinned.status();
  absl::Status st = core_->store->CreateCampaign(c, members);
  if (!st.ok()) return st;
  LogInfo("campaign %s (%s) of plan %s by %s: %d members", c.id(), c.name(), c.plan_name(), by,
          static_cast<int>(members.size()));
  absl::MutexLock lock(&mu_);
  st = Advance(c, *endpoints);
  if (!st.ok()) return st;
  auto out = Get(c.id());
  if (!out.ok()) return out.status();
  return out->campaign();
}

absl::StatusOr<v1::GetCampaignResponse> Campaigns::Get(const std::string& id) {
  auto c = Load(id);
  if (!c.ok()) return c.status();
  auto members = core_->store->ListMembers(id);
  if (!members.ok()) return members.status();
  auto endpoints = Endpoints();
  if (!endpoints.ok()) return endpoints.status();
  int64_t now = core_->clock->NowMs();
  Count(*members, *endpoints, now, &*c);
  v1::GetCampaignResponse out;
  *out.mutable_campaign() = *c;
  for (auto& m : *members) {
    auto e = endpoints->find(m.endpoint_id());
    if (e != endpoints->end()) ExplainMember(e->second, now, &m);
    *out.add_members() = std::move(m);
  }
  return out;
}

absl::StatusOr<std::vector<v1::Campaign>> Campaigns::List() {
  auto all = core_->store->ListCampaigns();
  if (!all.ok()) return all.status();
  auto endpoints = Endpoints();
  if (!endpoints.ok()) return endpoints.status();
  for (auto& c : *all) {
    auto members = core_->store->ListMembers(c.id());
    if (!members.ok()) return members.status();
    Count(*members, *endpoints, core_->clock->NowMs(), &c);
  }
  return all;
}

absl::Status Campaigns::Withdraw(const v1::Campaign& c, std::vector<v1::CampaignMember>* members) {
  int64_t now = core_->clock->NowMs();
  for (auto& m : *members) {
    if (m.state() == v1::MEMBER_STATE_RUNNING) {
      absl::Status st = core_->store->CancelRun(m.run_id(), m.endpoint_id(), now);
      if (!st.ok()) return st;
    }
    if (m.state() == v1::MEMBER_STATE_RUNNING || m.state() == v1::MEMBER_STATE_PENDING) {
      m.set_state(v1::MEMBER_STATE_CANCELLED);
      m.set_reason(absl::StrCat("campaign ", v1::CampaignState_Name(c.state()).substr(15)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Campaign> Campaigns::Act(const v1::ActOnCampaignRequest& req) {
  absl::MutexLock lock(&mu_);
  auto c = Load(req.id());
  if (!c.ok()) return c.status();
  auto members = core_->store->ListMembers(req.id());
  if (!members.ok()) return members.status();
  auto refuse = [&](const char* what) {
    return absl::FailedPreconditionError(absl::StrCat("campaign ", c->id(), " is ",
                                                      v1::CampaignState_Name(c->state()).substr(15),
                                                      ": cannot ", what));
  };
  switch (req.action()) {
    case v1::ActOnCampaignRequest::ACTION_PAUSE:
      if (c->state() != v1::CAMPAIGN_STATE_RUNNING &&
          c->state() != v1::CAMPAIGN_STATE_WAITING_APPROVAL) {
        return refuse("pause");
      }
      c->set_state(v1::CAMPAIGN_STATE_PAUSED);
      c->set_state_reason("paused by an operator");
      break;
    case v1::ActOnCampaignRequest::ACTION_RESUME: {
      if (c->state() != v1::CAMPAIGN_STATE_PAUSED) return refuse("resume");
      // Failures so far were seen by the operator who resumes: count only new ones.
      int failures = 0;
      for (const auto& m : *members) {
        failures += m.wave() == c->current_wave() && m.state() == v1::MEMBER_STATE_FAILED;
      }
      c->set_acknowledged_failures(failures);
      c->set_state(v1::CAMPAIGN_STATE_RUNNING);
      c->set_state_reason("resumed by an operator");
      break;
    }
    case v1::ActOnCampaignRequest::ACTION_CANCEL:
      if (IsFinal(c->state())) return refuse("cancel");
      c->set_state(v1::CAMPAIGN_STATE_CANCELLED);
      c->set_state_reason("cancelled by an operator");
      if (absl::Status st = Withdraw(*c, &*members); !st.ok()) return st;
      break;
    case v1::ActOnCampaignRequest::ACTION_RETRY_FAILED: {
      if (c->state() == v1::CAMPAIGN_STATE_CANCELLED || c->state() == v1::CAMPAIGN_STATE_EXPIRED) {
        return refuse("retry");
      }
      int n = 0;
      for (auto& m : *members) {
        if (m.state() != v1::MEMBER_STATE_FAILED) continue;
        if (req.error_class() != v1::ERROR_CLASS_UNSPECIFIED &&
            m.error_class() != req.error_class()) {
          continue;
        }
        m.set_state(v1::MEMBER_STATE_PENDING);
        m.set_reason("retry requested");
        m.set_error_class(v1::ERROR_CLASS_UNSPECIFIED);
        m.set_started_unix_ms(0);
        ++n;
      }
      if (c->state() == v1::CAMPAIGN_STATE_COMPLETED) c->set_state(v1::CAMPAIGN_STATE_RUNNING);
      c->set_acknowledged_failures(0);
      c->set_state_reason(absl::StrCat(n, " failed members retried"));
      break;
    }
    case v1::ActOnCampaignRequest::ACTION_APPROVE:
      if (c->state() != v1::CAMPAIGN_STATE_WAITING_APPROVAL) return refuse("approve");
      c->set_state(v1::CAMPAIGN_STATE_RUNNING);
      c->set_current_wave(c->current_wave() + 1);
      c->set_acknowledged_failures(0);
      c->set_state_reason(absl::StrCat("wave ", c->current_wave(), " approved"));
      break;
    default:
      return absl::InvalidArgumentError("action: required");
  }
  absl::Status st = core_->store->SaveCampaign(*c, *members);
  if (!st.ok()) return st;
  auto endpoints = Endpoints();
  if (!endpoints.ok()) return endpoints.status();
  st = Advance(*c, *endpoints);
  if (!st.ok()) return st;
  auto out = Get(req.id());
  if (!out.ok()) return out.status();
  return out->campaign();
}

absl::Status Campaigns::Advance(v1::Campaign c, const EndpointMap& endpoints) {
  int64_t now = core_->clock->NowMs();
  auto loaded = core_->store->ListMembers(c.id());
  if (!loaded.ok()) return loaded.status();
  std::vector<v1::CampaignMember> members = std::move(*loaded);
  std::set<int> changed;
  for (int i : RefreshMembers(endpoints, &members)) changed.insert(i);
  // A member whose endpoint moved on to another run (another campaign took it
  // the moment it finished) learns its outcome from its own run's jobs.
  for (int i = 0; i < static_cast<int>(members.size()); ++i) {
    v1::CampaignMember& m = members[i];
    auto e = endpoints.find(m.endpoint_id());
    if (m.state() != v1::MEMBER_STATE_RUNNING || e == endpoints.end() ||
        e->second.run_id() == m.run_id()) {
      continue;
    }
    auto end = core_->store->RunOutcome(m.run_id(), m.endpoint_id());
    if (!end.ok()) return end.status();
    switch (end->state) {
      case v1::JOB_STATE_SUCCEEDED:
        m.set_state(v1::MEMBER_STATE_DONE);
        break;
      case v1::JOB_STATE_FAILED:
      case v1::JOB_STATE_TIMED_OUT:
        m.set_state(v1::MEMBER_STATE_FAILED);
        break;
      case v1::JOB_STATE_BLOCKED:
        m.set_state(v1::MEMBER_STATE_BLOCKED);
        break;
      case v1::JOB_STATE_CANCELLED:
        m.set_state(v1::MEMBER_STATE_CANCELLED);
        break;
      default:
        continue;  // still running
    }
    m.set_error_class(end->error_class);
    m.set_reason(end->detail);
    changed.insert(i);
  }
  // Dynamic membership: matching endpoints that enrolled since join the last wave.
  if (c.target().dynamic() && !IsFinal(c.state())) {
    std::set<std::string> have;
    for (const auto& m : members) have.insert(m.endpoint_id());
    int cap = c.target().dynamic_cap();
    for (const auto& [id, e] : endpoints) {
      if (cap > 0 && static_cast<int>(members.size()) >= cap) break;
      if (have.count(id) || !MatchesTarget(c.target(), e)) continue;
      v1::CampaignMember m;
      m.set_endpoint_id(id);
      m.set_wave(LastWave(c.policy()));
      m.set_state(v1::MEMBER_STATE_PENDING);
      m.set_reason("joined after the campaign started");
      changed.insert(static_cast<int>(members.size()));
      members.push_back(std::move(m));
    }
  }
  NextStep next = Decide(c, members, now);
  bool moved = next.state != c.state() || next.reason != c.state_reason() ||
               next.current_wave != c.current_wave();
  if (next.current_wave != c.current_wave()) c.set_acknowledged_failures(0);
  c.set_state(next.state);
  c.set_state_reason(next.reason);
  c.set_current_wave(next.current_wave);
  if (next.state == v1::CAMPAIGN_STATE_EXPIRED) {
    absl::Status st = Withdraw(c, &members);
    if (!st.ok()) return st;
    for (int i = 0; i < static_cast<int>(members.size()); ++i) changed.insert(i);
  }
  if (!next.start.empty()) {
    auto plan = PinnedPlan(&c);
    if (!plan.ok()) {
      c.set_state(v1::CAMPAIGN_STATE_PAUSED);
      c.set_state_reason(std::string(plan.status().message()));
      moved = true;
    } else {
      auto spec = MakeRunSpec(core_, *plan, {c.params().begin(), c.params().end()},
                              c.policy().reboot_policy(), c.id());
      if (!spec.ok()) {
        c.set_state(v1::CAMPAIGN_STATE_PAUSED);
        c.set_state_reason(std::string(spec.status().message()));
        moved = true;
      } else {
        for (int i : next.start) spec->endpoint_ids.push_back(members[i].endpoint_id());
        auto started = core_->store->StartRun(*spec);
        if (!started.ok()) return started.status();
        std::map<std::string, std::string> skipped;
        for (const auto& s : started->skipped()) skipped[s.endpoint_id()] = s.reason();
        for (int i : next.start) {
          v1::CampaignMember& m = members[i];
          auto it = skipped.find(m.endpoint_id());
          if (it == skipped.end()) {
            m.set_state(v1::MEMBER_STATE_RUNNING);
            m.set_run_id(spec->run_id);
            m.set_started_unix_ms(now);
            m.set_reason("");
          } else if (it->second.rfind("busy", 0) == 0) {
            m.set_reason(absl::StrCat("conflict: ", it->second));  // waits, shown
          } else if (it->second == "unknown endpoint") {
            m.set_reason("never seen: not enrolled yet");
          } else {
            m.set_state(v1::MEMBER_STATE_SKIPPED);
            m.set_reason(it->second);
          }
          changed.insert(i);
        }
        core_->Notify({started->started().begin(), started->started().end()});
      }
    }
  }
  if (moved || !changed.empty()) {
    std::vector<v1::CampaignMember> save;
    for (int i : changed) save.push_back(members[i]);
    absl::Status st = core_->store->SaveCampaign(c, save);
    if (!st.ok()) return st;
    if (moved)
      LogInfo("campaign %s: %s (%s)", c.id(), v1::CampaignState_Name(c.state()), c.state_reason());
  }
  Count(members, endpoints, now, &c);
  Publish(c);
  return absl::OkStatus();
}

absl::StatusOr<v1::Plan> Campaigns::PinnedPlan(v1::Campaign* c) {
  if (c->plan_sha256().empty()) {  // created before plans had versions: pin the current one
    auto plans = core_->Plans();
    auto plan = plans->find(c->plan_name());
    if (plan == plans->end()) {
      return absl::NotFoundError(absl::StrCat("plan ", c->plan_name(), " is no longer loaded"));
    }
    auto sha = core_->store->PutPlanVersion(plan->second, core_->clock->NowMs());
    if (!sha.ok()) return sha.status();
    c->set_plan_sha256(*sha);
    return plan->second;
  }
  auto plan = core_->store->GetPlanVersion(c->plan_sha256());
  if (!plan.ok()) {
    return absl::Status(plan.status().code(),
                        absl::StrCat("plan ", c->plan_name(), ": ", plan.status().message()));
  }
  return plan;
}

void Campaigns::Tick() {
  auto all = core_->store->ListCampaigns();
  if (!all.ok()) {
    LogError("campaigns: %s", all.status().ToString());
    return;
  }
  bool any = false;
  for (const auto& c : *all) any |= !IsFinal(c.state());
  if (!any) return;
  auto endpoints = Endpoints();
  if (!endpoints.ok()) {
    LogError("campaigns: %s", endpoints.status().ToString());
    return;
  }
  absl::MutexLock lock(&mu_);
  for (const auto& c : *all) {
    if (IsFinal(c.state())) continue;
    absl::Status st = Advance(c, *endpoints);
    if (!st.ok() && !IsDiskFull(st)) LogError("campaign %s: %s", c.id(), st.ToString());
  }
}

grpc::ServerWriteReactor<v1::Campaign>* Campaigns::Watch(grpc::CallbackServerContext* ctx,
                                                         const v1::GetCampaignRequest* req) {
  auto* w = new CampaignWatch(this, req->id());
  bool queued = core_->pool->TrySubmit([this, ctx, req, w] {
    const std::string method = OperatorMethod("WatchCampaign");
    auto caller = core_->authz.Authorize(*ctx->auth_context(), method);
    if (!caller.ok()) {
      CallAudit(core_, method, *ctx->auth_context(), *req).Refused(caller.status());
      return w->End(ToGrpc(caller.status()));
    }
    w->caller = *caller;
    auto now = Get(w->id());
    if (!now.ok()) return w->End(ToGrpc(now.status()));
    // Registered, pushed and started under watch_mu_: until then nothing
    // can end it, and once registered it is freed only after Unregister,
    // which waits for watch_mu_.
    absl::MutexLock lock(&watch_mu_);
    watches_.emplace(w->id(), w);
    w->Push(now->campaign());
    w->Started();
  });
  if (!queued) w->End(ServerBusy());
  return w;
}

void Campaigns::CloseWatchesOf(const std::string& serial) {
  absl::MutexLock lock(&watch_mu_);
  for (auto& [id, w] : watches_) {
    if (w->caller.serial == serial) {
      w->End(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "certificate revoked"));
    }
  }
}

void Campaigns::Unregister(CampaignWatch* w) {
  absl::MutexLock lock(&watch_mu_);
  for (auto it = watches_.begin(); it != watches_.end(); ++it) {
    if (it->second == w) {
      watches_.erase(it);
      return;
    }
  }
}

void Campaigns::Publish(const v1::Campaign& c) {
  absl::MutexLock lock(&watch_mu_);
  // Watchers hear of changes, not of every tick (the ETA alone moves each time).
  v1::Campaign key = c;
  key.clear_eta_unix_ms();
  std::string& last = published_[c.id()];
  if (last == key.SerializeAsString()) return;
  last = key.SerializeAsString();
  auto range = watches_.equal_range(c.id());
  for (auto it = range.first; it != range.second; ++it) {
    // A stream outlives its certificate's checks: each update asks again.
    absl::Status valid = core_->authz.StillValid(it->second->caller);
    if (valid.ok()) {
      it->second->Push(c);
    } else {
      it->second->End(ToGrpc(valid));
    }
  }
}

}  // namespace purser::server
