#include "server/rollout.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "db/state_machine.h"
#include "shared/plan/effective_plan.h"
#include "shared/plan/platform.h"

namespace purser::server {
namespace {

bool Finished(v1::MemberState s) {
  return s == v1::MEMBER_STATE_DONE || s == v1::MEMBER_STATE_FAILED ||
         s == v1::MEMBER_STATE_BLOCKED || s == v1::MEMBER_STATE_SKIPPED ||
         s == v1::MEMBER_STATE_CANCELLED;
}

bool CountsAsFailure(const v1::CampaignMember& m, const v1::FailureThreshold& t) {
  if (m.state() != v1::MEMBER_STATE_FAILED) return false;
  if (t.error_classes_size() == 0) return true;
  return std::find(t.error_classes().begin(), t.error_classes().end(), m.error_class()) !=
         t.error_classes().end();
}

bool InWindow(const v1::RolloutPolicy& p, int64_t now_ms) {
  if (p.window_start_minute() == p.window_end_minute()) return true;
  v1::RebootPolicy window;
  window.set_mode(v1::RebootPolicy::MODE_MAINTENANCE_WINDOW);
  window.set_window_start_minute(p.window_start_minute());
  window.set_window_end_minute(p.window_end_minute());
  int64_t ignored;
  return db::InRebootWindow(window, now_ms, &ignored);
}

}  // namespace

bool IsFinal(v1::CampaignState s) {
  return s == v1::CAMPAIGN_STATE_COMPLETED || s == v1::CAMPAIGN_STATE_CANCELLED ||
         s == v1::CAMPAIGN_STATE_EXPIRED;
}

int LastWave(const v1::RolloutPolicy& p) { return std::max(1, p.waves_size()); }

void ExplainMember(const v1::Endpoint& e, int64_t now_ms, v1::CampaignMember* m) {
  if (m->state() != v1::MEMBER_STATE_RUNNING && m->state() != v1::MEMBER_STATE_PENDING) return;
  std::string why = m->reason();
  if (why.empty() && m->state() == v1::MEMBER_STATE_RUNNING) why = e.state_detail();
  if (!e.online()) {
    int64_t minutes = e.last_seen_unix_ms() > 0 ? (now_ms - e.last_seen_unix_ms()) / 60'000 : -1;
    absl::StrAppend(&why, why.empty() ? "" : "; ", "offline",
                    minutes >= 0 ? absl::StrCat(" (last seen ", minutes, " min ago)") : "");
  }
  m->set_reason(why);
}

bool WillRun(const v1::Plan& plan, const std::map<std::string, std::string>& params,
             const v1::Endpoint& e) {
  if (e.state() == v1::ENDPOINT_STATE_UNSUPPORTED || e.state() == v1::ENDPOINT_STATE_REVOKED ||
      e.os().product() == v1::OS_PRODUCT_UNSPECIFIED) {
    return false;
  }
  return !EffectiveSteps(plan, e.os(), params).empty();
}

std::vector<v1::CampaignMember> AssignWaves(std::vector<std::string> ids,
                                            const v1::RolloutPolicy& policy,
                                            const std::set<std::string>& runnable) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  // Runnable endpoints first, for the canary; the order is otherwise kept.
  std::stable_partition(ids.begin(), ids.end(),
                        [&](const std::string& id) { return runnable.count(id) > 0; });
  std::vector<v1::CampaignMember> out;
  size_t canary = std::min<size_t>(std::max(0, policy.canary_count()), ids.size());
  size_t rest = ids.size() - canary;
  size_t next = 0;
  auto add = [&](size_t n, int wave) {
    for (size_t i = 0; i < n && next < ids.size(); ++i, ++next) {
      v1::CampaignMember m;
      m.set_endpoint_id(ids[next]);
      m.set_wave(wave);
      m.set_state(v1::MEMBER_STATE_PENDING);
      out.push_back(std::move(m));
    }
  };
  add(canary, 0);
  for (int w = 0; w + 1 < policy.waves_size(); ++w) {
    const v1::Wave& wave = policy.waves(w);
    size_t n = wave.count() > 0 ? static_cast<size_t>(wave.count())
                                : static_cast<size_t>(std::ceil(rest * wave.percent() / 100.0));
    add(n, w + 1);
  }
  add(ids.size(), LastWave(policy));
  return out;
}

bool MatchesTarget(const v1::CampaignTarget& t, const v1::Endpoint& e) {
  for (const auto& [k, v] : t.labels()) {
    auto it = e.labels().find(k);
    if (it == e.labels().end() || it->second != v) return false;
  }
  if (t.products_size() > 0 &&
      std::find(t.products().begin(), t.products().end(), e.os().product()) == t.products().end()) {
    return false;
  }
  if (t.editions_size() > 0 &&
      std::find(t.editions().begin(), t.editions().end(), e.os().edition()) == t.editions().end()) {
    return false;
  }
  return t.arch() == v1::ARCH_UNSPECIFIED || t.arch() == e.os().arch();
}

std::vector<int> RefreshMembers(const EndpointMap& endpoints,
                                std::vector<v1::CampaignMember>* members) {
  std::vector<int> changed;
  for (int i = 0; i < static_cast<int>(members->size()); ++i) {
    v1::CampaignMember& m = (*members)[i];
    if (m.state() != v1::MEMBER_STATE_RUNNING) continue;
    auto it = endpoints.find(m.endpoint_id());
    if (it == endpoints.end() || it->second.run_id() != m.run_id()) continue;
    const v1::Endpoint& e = it->second;
    v1::MemberState next = m.state();
    switch (e.state()) {
      case v1::ENDPOINT_STATE_ONBOARDED:
      case v1::ENDPOINT_STATE_OFFBOARDED:
        next = v1::MEMBER_STATE_DONE;
        break;
      case v1::ENDPOINT_STATE_FAILED:
        next = v1::MEMBER_STATE_FAILED;
        break;
      case v1::ENDPOINT_STATE_BLOCKED:
        next = v1::MEMBER_STATE_BLOCKED;
        break;
      case v1::ENDPOINT_STATE_ENROLLED:
      case v1::ENDPOINT_STATE_INTERRUPTED:
        next = v1::MEMBER_STATE_CANCELLED;
        break;
      case v1::ENDPOINT_STATE_REVOKED:
        next = v1::MEMBER_STATE_CANCELLED;
        break;
      default:
        break;
    }
    if (next == m.state()) continue;
    m.set_state(next);
    m.set_error_class(e.error_class());
    m.set_reason(e.state_detail());
    changed.push_back(i);
  }
  return changed;
}

void Count(const std::vector<v1::CampaignMember>& members, const EndpointMap& endpoints,
           int64_t now_ms, v1::Campaign* c) {
  v1::CampaignCounters k;
  std::map<int, v1::WaveProgress> waves;
  int64_t first_start = 0;
  for (const auto& m : members) {
    k.set_members(k.members() + 1);
    v1::WaveProgress& w = waves[m.wave()];
    w.set_wave(m.wave());
    w.set_members(w.members() + 1);
    auto it = endpoints.find(m.endpoint_id());
    bool known = it != endpoints.end();
    if (!known) k.set_never_seen(k.never_seen() + 1);
    bool active = m.state() == v1::MEMBER_STATE_PENDING || m.state() == v1::MEMBER_STATE_RUNNING;
    if (active && known && !it->second.online()) k.set_offline(k.offline() + 1);
    if (m.started_unix_ms() > 0 && (first_start == 0 || m.started_unix_ms() < first_start)) {
      first_start = m.started_unix_ms();
    }
    switch (m.state()) {
      case v1::MEMBER_STATE_PENDING:
        k.set_pending(k.pending() + 1);
        w.set_pending(w.pending() + 1);
        if (m.reason().rfind("conflict", 0) == 0) k.set_conflicts(k.conflicts() + 1);
        break;
      case v1::MEMBER_STATE_RUNNING:
        k.set_running(k.running() + 1);
        w.set_running(w.running() + 1);
        if (known && it->second.state() == v1::ENDPOINT_STATE_WAITING_REBOOT) {
          k.set_waiting_reboot(k.waiting_reboot() + 1);
        }
        break;
      case v1::MEMBER_STATE_DONE:
        k.set_done(k.done() + 1);
        w.set_done(w.done() + 1);
        break;
      case v1::MEMBER_STATE_FAILED: {
        k.set_failed(k.failed() + 1);
        w.set_failed(w.failed() + 1);
        if (m.error_class() == v1::ERROR_CLASS_TIMEOUT) k.set_timed_out(k.timed_out() + 1);
        std::string cls = ShortEnumName(v1::ErrorClass_Name(m.error_class()), "ERROR_CLASS_");
        (*k.mutable_failed_by_class())[cls]++;
        break;
      }
      case v1::MEMBER_STATE_BLOCKED:
        k.set_blocked(k.blocked() + 1);
        break;
      case v1::MEMBER_STATE_SKIPPED:
        k.set_skipped(k.skipped() + 1);
        break;
      case v1::MEMBER_STATE_CANCELLED:
        k.set_cancelled(k.cancelled() + 1);
        break;
      default:
        break;
    }
  }
  *c->mutable_counters() = k;
  c->clear_waves();
  for (auto& [n, w] : waves) *c->add_waves() = w;
  int finished = k.done() + k.failed() + k.blocked();
  int remaining = k.pending() + k.running();
  c->set_eta_unix_ms(0);
  if (first_start > 0 && finished > 0 && remaining > 0 && now_ms > first_start) {
    double per_ms = static_cast<double>(finished) / static_cast<double>(now_ms - first_start);
    c->set_eta_unix_ms(now_ms + static_cast<int64_t>(remaining / per_ms));
  }
}

NextStep Decide(const v1::Campaign& c, const std::vector<v1::CampaignMember>& members,
                int64_t now_ms) {
  NextStep out{c.state(), c.state_reason(), c.current_wave(), {}};
  if (c.state() != v1::CAMPAIGN_STATE_RUNNING) return out;
  const v1::RolloutPolicy& p = c.policy();
  if (p.deadline_unix_ms() > 0 && now_ms >= p.deadline_unix_ms()) {
    out.state = v1::CAMPAIGN_STATE_EXPIRED;
    out.reason = absl::StrCat(
        "deadline passed at ",
        absl::FormatTime(absl::FromUnixMillis(p.deadline_unix_ms()), absl::UTCTimeZone()));
    return out;
  }
  int wave = c.current_wave();
  // The failure threshold, over the current wave's finished members.
  const v1::FailureThreshold& t = p.failure_threshold();
  int finished = 0, failures = 0, active_upto = 0, canary_bad = 0;
  std::string canary_why;
  for (const auto& m : members) {
    if (m.wave() == wave && Finished(m.state()) && m.state() != v1::MEMBER_STATE_CANCELLED) {
      ++finished;
      failures += CountsAsFailure(m, t);
    }
    if (m.wave() <= wave && !Finished(m.state())) ++active_upto;
    if (m.wave() == 0 &&
        (m.state() == v1::MEMBER_STATE_FAILED || m.state() == v1::MEMBER_STATE_BLOCKED)) {
      ++canary_bad;
      if (canary_why.empty())
        canary_why = absl::StrCat(m.endpoint_id().substr(0, 12), ": ", m.reason());
    }
  }
  failures -= c.acknowledged_failures();
  if ((t.max_failures() > 0 || t.max_failure_percent() > 0) && finished >= t.min_sample()) {
    bool by_count = t.max_failures() > 0 && failures >= t.max_failures();
    bool by_pct =
        t.max_failure_percent() > 0 && failures * 100 >= t.max_failure_percent() * finished;
    if (failures > 0 && (by_count || by_pct)) {
      out.state = v1::CAMPAIGN_STATE_PAUSED;
      out.reason = absl::StrCat(
          "failure threshold reached in wave ", wave, ": ", failures, " failed of ", finished,
          " finished (threshold: ",
          t.max_failures() > 0 ? absl::StrCat(t.max_failures(), " failures") : "",
          t.max_failures() > 0 && t.max_failure_percent() > 0 ? " or " : "",
          t.max_failure_percent() > 0 ? absl::StrCat(t.max_failure_percent(), "%") : "", ")");
      return out;
    }
  }
  if (active_upto == 0) {
    if (wave == 0 && canary_bad > 0 && p.canary_count() > 0) {
      out.state = v1::CAMPAIGN_STATE_PAUSED;
      out.reason = absl::StrCat("canary failed (", canary_bad, "): ", canary_why);
      return out;
    }
    bool more = false;
    for (const auto& m : members) more |= m.wave() > wave && !Finished(m.state());
    if (!more && wave >= LastWave(p)) {
      out.state = c.target().dynamic() ? v1::CAMPAIGN_STATE_RUNNING : v1::CAMPAIGN_STATE_COMPLETED;
      out.reason = out.state == v1::CAMPAIGN_STATE_COMPLETED ? "every member finished"
                                                             : "waiting for new members";
      if (out.state == v1::CAMPAIGN_STATE_COMPLETED) return out;
    } else if (wave < LastWave(p)) {
      bool approve = (wave == 0 && p.canary_count() > 0 && p.approve_after_canary()) ||
                     (wave >= 1 && p.approve_each_wave());
      if (approve) {
        out.state = v1::CAMPAIGN_STATE_WAITING_APPROVAL;
        out.reason = absl::StrCat("wave ", wave, " finished: approve wave ", wave + 1);
        return out;
      }
      out.current_wave = ++wave;
      out.reason = absl::StrCat("wave ", wave, " started");
    }
  }
  if (!InWindow(p, now_ms)) {
    out.reason = "outside the maintenance window: no endpoint starts";
    return out;
  }
  int running = 0, recent = 0;
  for (const auto& m : members) {
    running += m.state() == v1::MEMBER_STATE_RUNNING;
    recent += m.started_unix_ms() > now_ms - 60'000;
  }
  int room = p.max_in_flight() > 0 ? p.max_in_flight() - running : 1 << 30;
  if (p.start_per_minute() > 0) room = std::min(room, p.start_per_minute() - recent);
  for (int i = 0; i < static_cast<int>(members.size()) && room > 0; ++i) {
    const auto& m = members[i];
    if (m.state() == v1::MEMBER_STATE_PENDING && m.wave() <= out.current_wave) {
      out.start.push_back(i);
      --room;
    }
  }
  return out;
}

}  // namespace purser::server
