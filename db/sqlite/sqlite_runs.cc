// Runs and jobs: starting runs, leases, reports, expiry, re-verification.
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "db/sqlite/rows.h"
#include "db/sqlite/sqlite_store.h"
#include "db/state_machine.h"
#include "shared/plan/effective_plan.h"
#include "shared/plan/platform.h"
#include "shared/status_macros.h"

namespace purser::db {

using namespace sqlite;  // NOLINT: the shared row helpers

namespace {

// A plan version, digested and serialised by the caller: not on the writer thread.
struct PlanVersion {
  explicit PlanVersion(const v1::Plan& plan)
      : sha(PlanDigest(plan)), name(plan.name()), blob(plan.SerializeAsString()) {}
  std::string sha, name, blob;
};

absl::Status InsertPlanVersion(Connection& c, const PlanVersion& v, int64_t now_ms) {
  ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO plan_versions(sha256, name, plan, created_ms) "
                                     "VALUES (?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING"));
  return s.Bind(1, v.sha).Bind(2, v.name).BindBlob(3, v.blob).Bind(4, now_ms).Exec();
}

}  // namespace

absl::StatusOr<v1::StartRunResponse> SqliteStore::StartRun(const RunSpec& spec) {
  v1::StartRunResponse out;
  const PlanVersion version(spec.plan);
  absl::Status st = Write([&](Connection& c) -> absl::Status {
    out.Clear();
    out.set_run_id(spec.run_id);
    std::vector<std::string> ids = spec.endpoint_ids;
    if (spec.all_endpoints) {
      ids.clear();
      ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT id FROM endpoints ORDER BY id"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        ids.push_back(s.Text(0));
      }
    }
    RETURN_IF_ERROR(InsertPlanVersion(c, version, spec.now_ms));
    {
      ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO runs(id, plan_name, purpose, params, "
                                         "created_ms, created_by, reboot_policy, artifacts, "
                                         "plan_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      RETURN_IF_ERROR(s.Bind(1, spec.run_id)
                          .Bind(2, spec.plan.name())
                          .Bind(3, spec.plan.purpose())
                          .BindBlob(4, MapBlob(spec.params))
                          .Bind(5, spec.now_ms)
                          .Bind(6, spec.created_by)
                          .BindBlob(7, spec.reboot_policy.SerializeAsString())
                          .BindBlob(8, MapBlob(spec.artifacts))
                          .Bind(9, version.sha)
                          .Exec());
    }
    auto skip = [&](const std::string& id, const std::string& reason) {
      auto* s = out.add_skipped();
      s->set_endpoint_id(id);
      s->set_reason(reason);
    };
    for (const auto& id : ids) {
      ASSIGN_OR_RETURN(auto e, LoadEndpoint(c, id, spec.now_ms, options_));
      if (!e) {
        skip(id, "unknown endpoint");
        continue;
      }
      if (e->state() == v1::ENDPOINT_STATE_UNSUPPORTED) {
        skip(id, absl::StrCat("unsupported: ", e->state_detail()));
        continue;
      }
      if (e->state() == v1::ENDPOINT_STATE_REVOKED) {
        skip(id, "revoked");
        continue;
      }
      if (IsBusy(e->state())) {
        skip(id, absl::StrCat("busy with run ", e->run_id(), " (plan ", e->plan_name(), ")"));
        continue;
      }
      if (!e->has_os() || e->os().product() == v1::OS_PRODUCT_UNSPECIFIED) {
        skip(id, "has not reported its inventory yet");
        continue;
      }
      std::vector<int> steps = EffectiveSteps(spec.plan, e->os(), spec.params);
      if (steps.empty()) {
        skip(id, absl::StrCat("no step of plan ", spec.plan.name(), " applies to ",
                              OsDisplayName(e->os())));
        continue;
      }
      std::string missing;
      for (int i : steps) {
        for (const auto& a : spec.plan.steps(i).artifacts()) {
          if (!spec.artifacts.count(a) && missing.empty()) missing = a;
        }
      }
      if (!missing.empty()) {
        skip(id, absl::StrCat("artifact ", missing, " has not been uploaded"));
        continue;
      }
      ASSIGN_OR_RETURN(Stmt ins,
                       c.Prepare("INSERT INTO jobs(id, run_id, endpoint_id, seq, step_count, "
                                 "step, step_id, kind, state, max_attempts, backoff_s, "
                                 "timeout_s, updated_ms) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      int n = static_cast<int>(steps.size());
      for (int k = 0; k < n; ++k) {
        const v1::Step& step = spec.plan.steps(steps[k]);
        RETURN_IF_ERROR(ins.Bind(1, absl::StrCat(spec.run_id, ".", id, ".", k + 1))
                            .Bind(2, spec.run_id)
                            .Bind(3, id)
                            .Bind(4, k + 1)
                            .Bind(5, n)
                            .BindBlob(6, step.SerializeAsString())
                            .Bind(7, step.id())
                            .Bind(8, step.kind())
                            .Bind(9, k == 0 ? v1::JOB_STATE_QUEUED : v1::JOB_STATE_PENDING)
                            .Bind(10, StepMaxAttempts(step))
                            .Bind(11, StepBackoffSeconds(step))
                            .Bind(12, StepTimeoutSeconds(step))
                            .Bind(13, spec.now_ms)
                            .Exec());
      }
      ASSIGN_OR_RETURN(Stmt up, c.Prepare("UPDATE endpoints SET run_id = ?, current_seq = 0, "
                                          "step_count = ?, current_step_id = '' WHERE id = ?"));
      RETURN_IF_ERROR(up.Bind(1, spec.run_id).Bind(2, n).Bind(3, id).Exec());
      RETURN_IF_ERROR(SetState(c, id, v1::ENDPOINT_STATE_QUEUED,
                               absl::StrCat("plan ", spec.plan.name(), ": ", n, " steps queued"),
                               v1::ERROR_CLASS_UNSPECIFIED, spec.now_ms));
      out.add_started(id);
    }
    if (out.started_size() == 0) {  // nothing started: no run to keep
      ASSIGN_OR_RETURN(Stmt del, c.Prepare("DELETE FROM runs WHERE id = ?"));
      RETURN_IF_ERROR(del.Bind(1, spec.run_id).Exec());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::string> SqliteStore::PutPlanVersion(const v1::Plan& plan, int64_t now_ms) {
  const PlanVersion version(plan);
  RETURN_IF_ERROR(Write([&](Connection& c) { return InsertPlanVersion(c, version, now_ms); }));
  return version.sha;
}

absl::StatusOr<v1::Plan> SqliteStore::GetPlanVersion(const std::string& sha256) {
  std::optional<v1::Plan> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT plan FROM plan_versions WHERE sha256 = ?"));
    s.Bind(1, sha256);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) {
      out.emplace();
      if (!out->ParseFromString(s.Text(0))) {
        return absl::DataLossError(absl::StrCat("plan version ", sha256, " cannot be read"));
      }
    }
    return absl::OkStatus();
  }));
  if (!out) return absl::NotFoundError(absl::StrCat("plan version ", sha256, " is not stored"));
  return *out;
}

absl::StatusOr<LeaseResult> SqliteStore::LeaseNextJob(const std::string& endpoint_id,
                                                      int64_t now_ms) {
  static const char* kNextJob =
      "SELECT id FROM jobs WHERE endpoint_id = ? AND state IN (2, 3) ORDER BY seq LIMIT 1";
  // Most polls find nothing: answer those from a reader, without the writer.
  bool any = false;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare(kNextJob));
    s.Bind(1, endpoint_id);
    ASSIGN_OR_RETURN(any, s.Step());
    return absl::OkStatus();
  }));
  LeaseResult out;
  if (!any) return out;
  absl::Status st = Write([&](Connection& c) -> absl::Status {
    out = LeaseResult();
    ASSIGN_OR_RETURN(Stmt s,
                     c.Prepare("SELECT j.id, j.run_id, j.seq, j.step_count, j.step, j.state, "
                               "j.attempt, j.not_before_ms, j.timeout_s, r.plan_name, r.purpose, "
                               "r.params, j.after_reboot, j.reboot_kb, r.reboot_policy, "
                               "r.artifacts, e.inventory, e.reboot_allowed, j.max_attempts, "
                               "j.backoff_s, j.step_id "
                               "FROM jobs j JOIN runs r ON r.id = j.run_id "
                               "JOIN endpoints e ON e.id = j.endpoint_id "
                               "WHERE j.endpoint_id = ? AND j.state IN (2, 3) "
                               "ORDER BY j.seq LIMIT 1"));
    s.Bind(1, endpoint_id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::OkStatus();
    auto state = static_cast<v1::JobState>(s.Int(5));
    int64_t not_before = s.Int(7);
    if (state == v1::JOB_STATE_QUEUED && not_before > now_ms) {
      out.retry_after_ms = not_before - now_ms;
      return absl::OkStatus();
    }
    LeasedJob lj;
    v1::Job& job = lj.job;
    job.set_job_id(s.Text(0));
    job.set_run_id(s.Text(1));
    job.set_seq(static_cast<int32_t>(s.Int(2)));
    job.set_step_count(static_cast<int32_t>(s.Int(3)));
    job.mutable_step()->ParseFromString(s.Text(4));
    job.set_attempt(static_cast<int32_t>(s.Int(6)));
    job.set_lease_expires_unix_ms(now_ms + s.Int(8) * 1000 + options_.lease_grace_ms);
    lj.plan_name = s.Text(9);
    job.set_plan_name(lj.plan_name);
    lj.purpose = static_cast<v1::PlanPurpose>(s.Int(10));
    lj.params = BlobMap(s.Text(11));
    bool after_reboot = state == v1::JOB_STATE_QUEUED && s.Int(12) != 0;
    std::string reboot_kb = s.Text(13);
    v1::RebootPolicy policy;
    policy.ParseFromString(s.Text(14));
    std::map<std::string, std::string> artifacts = BlobMap(s.Text(15));
    v1::Inventory inventory;
    inventory.ParseFromString(s.Text(16));
    bool reboot_allowed = s.Int(17) != 0;

    if (after_reboot && inventory.pending_reboot()) {
      // The previous step asked for a reboot that has not happened yet.
      int64_t opens_in = 0;
      if (policy.mode() == v1::RebootPolicy::MODE_OPERATOR && !reboot_allowed) {
        return SetState(c, endpoint_id, v1::ENDPOINT_STATE_WAITING_REBOOT,
                        "waiting for an operator to allow the reboot", v1::ERROR_CLASS_UNSPECIFIED,
                        now_ms);
      }
      if (!InRebootWindow(policy, now_ms, &opens_in)) {
        out.retry_after_ms = std::min<int64_t>(opens_in, 60'000);
        return SetState(c, endpoint_id, v1::ENDPOINT_STATE_WAITING_REBOOT,
                        absl::StrCat("waiting for the maintenance window (reboot in ",
                                     opens_in / 60'000, " min)"),
                        v1::ERROR_CLASS_UNSPECIFIED, now_ms);
      }
      out.reboot = true;
      // The deadline runs from the first order: an agent asking again is not back yet.
      ASSIGN_OR_RETURN(Stmt ordered, c.Prepare("UPDATE jobs SET reboot_ordered_ms = ? WHERE id = ? "
                                               "AND reboot_ordered_ms = 0"));
      RETURN_IF_ERROR(ordered.Bind(1, now_ms).Bind(2, job.job_id()).Exec());
      return SetState(c, endpoint_id, v1::ENDPOINT_STATE_WAITING_REBOOT, "rebooting",
                      v1::ERROR_CLASS_UNSPECIFIED, now_ms);
    }
    if (after_reboot && !reboot_kb.empty() &&
        std::find(inventory.installed_kbs().begin(), inventory.installed_kbs().end(), reboot_kb) ==
            inventory.installed_kbs().end()) {
      // Rebooted, but the update that needed it did not take: this step must not run.
      JobView view;
      view.attempt = job.attempt();
      view.max_attempts = job.attempt();  // not retryable as such: rerun the plan
      view.seq = job.seq();
      view.step_count = job.step_count();
      view.step_id = s.Text(20);
      view.purpose = lj.purpose;
      std::string msg = absl::StrCat(reboot_kb, " is still not installed after the reboot");
      Transition t = Decide(view, {v1::STEP_OUTCOME_FAILED, v1::ERROR_CLASS_CHECK_FAILED, 0, msg});
      return ApplyTransition(c, endpoint_id, job.job_id(), job.run_id(), view, t, 0, msg, false,
                             now_ms);
    }
    for (const auto& name : job.step().artifacts()) {
      auto* a = job.add_artifacts();
      a->set_name(name);
      a->set_sha256(artifacts[name]);
    }
    if (state == v1::JOB_STATE_QUEUED) {
      // Everything the remaining steps need, so the agent stages it all first.
      ASSIGN_OR_RETURN(Stmt rest, c.Prepare("SELECT step FROM jobs WHERE run_id = ? AND "
                                            "endpoint_id = ? AND seq >= ? ORDER BY seq"));
      rest.Bind(1, job.run_id()).Bind(2, endpoint_id).Bind(3, job.seq());
      std::set<std::string> staged;
      while (true) {
        ASSIGN_OR_RETURN(bool more, rest.Step());
        if (!more) break;
        v1::Step later;
        later.ParseFromString(rest.Text(0));
        for (const auto& name : later.artifacts()) {
          if (!staged.insert(name).second) continue;
          auto* a = job.add_stage();
          a->set_name(name);
          a->set_sha256(artifacts[name]);
        }
      }
    }
    ASSIGN_OR_RETURN(Stmt up, c.Prepare("UPDATE jobs SET state = 3, lease_expires_ms = ?, "
                                        "after_reboot = 0, reboot_ordered_ms = 0, updated_ms = ? "
                                        "WHERE id = ?"));
    RETURN_IF_ERROR(
        up.Bind(1, job.lease_expires_unix_ms()).Bind(2, now_ms).Bind(3, job.job_id()).Exec());
    if (state == v1::JOB_STATE_QUEUED) {
      ASSIGN_OR_RETURN(Stmt e, c.Prepare("UPDATE endpoints SET current_seq = ?, "
                                         "current_step_id = ?, last_seen_ms = ?, "
                                         "reboot_allowed = 0 WHERE id = ?"));
      RETURN_IF_ERROR(e.Bind(1, job.seq())
                          .Bind(2, job.step().id())
                          .Bind(3, now_ms)
                          .Bind(4, endpoint_id)
                          .Exec());
      RETURN_IF_ERROR(SetState(c, endpoint_id, RunningState(lj.purpose),
                               absl::StrCat("step ", job.seq(), "/", job.step_count(), " ",
                                            job.step().id(), " attempt ", job.attempt()),
                               v1::ERROR_CLASS_UNSPECIFIED, now_ms));
    }
    out.job = std::move(lj);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int> SqliteStore::AllowReboot(const std::vector<std::string>& ids) {
  int waiting = 0;
  absl::Status st = Write([&](Connection& c) -> absl::Status {
    waiting = 0;
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE endpoints SET reboot_allowed = 1 WHERE id = ?"));
    for (const auto& id : ids) {
      RETURN_IF_ERROR(s.Bind(1, id).Exec());
      waiting += sqlite3_changes(c.raw());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return waiting;
}

absl::StatusOr<ReportAck> SqliteStore::RecordReport(const std::string& endpoint_id,
                                                    const v1::ReportResultRequest& r,
                                                    int64_t now_ms) {
  ReportAck ack;
  absl::Status st = Write([&](Connection& c) -> absl::Status {
    ack = ReportAck();
    JobView view;
    std::string run_id;
    v1::JobState state;
    v1::Step step;
    {
      ASSIGN_OR_RETURN(Stmt s,
                       c.Prepare("SELECT j.endpoint_id, j.state, j.attempt, j.max_attempts, "
                                 "j.backoff_s, j.seq, j.step_count, j.step_id, j.run_id, "
                                 "r.purpose, j.step FROM jobs j JOIN runs r ON r.id = j.run_id "
                                 "WHERE j.id = ?"));
      s.Bind(1, r.job_id());
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return absl::NotFoundError(absl::StrCat("job ", r.job_id(), " not found"));
      if (s.Text(0) != endpoint_id) {
        return absl::PermissionDeniedError(
            absl::StrCat("job ", r.job_id(), " does not belong to this endpoint"));
      }
      state = static_cast<v1::JobState>(s.Int(1));
      view.attempt = static_cast<int>(s.Int(2));
      view.max_attempts = static_cast<int>(s.Int(3));
      view.backoff_s = static_cast<int>(s.Int(4));
      view.seq = static_cast<int>(s.Int(5));
      view.step_count = static_cast<int>(s.Int(6));
      view.step_id = s.Text(7);
      run_id = s.Text(8);
      view.purpose = static_cast<v1::PlanPurpose>(s.Int(9));
      step.ParseFromString(s.Text(10));
    }
    {
      ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT applied, received_ms, outcome, exit_code, "
                                         "error_class, duration_ms, message, output_tail "
                                         "FROM reports WHERE job_id = ? AND attempt = ?"));
      s.Bind(1, r.job_id()).Bind(2, r.attempt());
      ASSIGN_OR_RETURN(bool row, s.Step());
      // A stale row (never applied) for the attempt leased right now was
      // stored before the lease (possible after a restore put the server back
      // in time): this report is the one awaited, not a repeat. An applied
      // row, or a stale one for an attempt not leased now, makes it a repeat.
      bool awaited =
          row && s.Int(0) == 0 && state == v1::JOB_STATE_LEASED && view.attempt == r.attempt();
      if (row && !awaited) {
        ack.duplicate = true;
        return absl::OkStatus();
      }
      if (row) {
        // The awaited report takes the row; the early one stays in the
        // endpoint's history, whole.
        ASSIGN_OR_RETURN(auto e, LoadEndpoint(c, endpoint_id, now_ms, options_));
        RETURN_IF_ERROR(AddEvent(
            c, endpoint_id, now_ms, e ? e->state() : v1::ENDPOINT_STATE_UNSPECIFIED,
            absl::StrCat("superseded report for job ", r.job_id(), " attempt ", r.attempt(),
                         ", received ",
                         absl::FormatTime("%Y-%m-%d %H:%M:%SZ", absl::FromUnixMillis(s.Int(1)),
                                          absl::UTCTimeZone()),
                         " before the attempt was leased: ",
                         v1::StepOutcome_Name(static_cast<v1::StepOutcome>(s.Int(2))),
                         ", exit code ", s.Int(3), ", ", s.Int(5), " ms; message: ", s.Text(6),
                         "; output tail: ", s.Text(7)),
            static_cast<v1::ErrorClass>(s.Int(4))));
        ASSIGN_OR_RETURN(Stmt d, c.Prepare("DELETE FROM reports WHERE job_id = ? AND attempt = ?"));
        RETURN_IF_ERROR(d.Bind(1, r.job_id()).Bind(2, r.attempt()).Exec());
      }
    }
    if (r.attempt() > view.attempt) {
      return absl::InvalidArgumentError(absl::StrCat("attempt: job ", r.job_id(), " is at attempt ",
                                                     view.attempt, "; attempt ", r.attempt(),
                                                     " was never leased"));
    }
    ack.stale = state != v1::JOB_STATE_LEASED || view.attempt != r.attempt();
    {
      ASSIGN_OR_RETURN(Stmt s,
                       c.Prepare("INSERT INTO reports(job_id, attempt, endpoint_id, outcome, "
                                 "exit_code, error_class, message, output_tail, duration_ms, "
                                 "applied, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      RETURN_IF_ERROR(s.Bind(1, r.job_id())
                          .Bind(2, r.attempt())
                          .Bind(3, endpoint_id)
                          .Bind(4, r.outcome())
                          .Bind(5, r.exit_code())
                          .Bind(6, r.error_class())
                          .Bind(7, r.message())
                          .Bind(8, r.output_tail())
                          .Bind(9, r.duration_ms())
                          .Bind(10, ack.stale ? 0 : 1)
                          .Bind(11, now_ms)
                          .Exec());
    }
    if (r.has_inventory()) {
      RETURN_IF_ERROR(NoteNonce(c, endpoint_id, r.inventory(), now_ms));
      ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE endpoints SET inventory = ?, last_seen_ms = ?, "
                                         "os_product = ? WHERE id = ?"));
      RETURN_IF_ERROR(s.BindBlob(1, r.inventory().SerializeAsString())
                          .Bind(2, now_ms)
                          .Bind(3, r.inventory().os().product())
                          .Bind(4, endpoint_id)
                          .Exec());
    }
    if (ack.stale) return absl::OkStatus();
    StepResult result{r.outcome(), r.error_class(), r.exit_code(), r.message()};
    Transition t = Decide(view, result);
    bool reboot = r.outcome() == v1::STEP_OUTCOME_REBOOT_REQUIRED;
    return ApplyTransition(c, endpoint_id, r.job_id(), run_id, view, t, r.exit_code(), r.message(),
                           false, now_ms, reboot, reboot ? step.install_update().kb() : "");
  });
  if (!st.ok()) return st;
  return ack;
}

namespace {

// Machines told to reboot that never came back: the run ends FAILED, saying
// so, instead of waiting for ever.
// The deadline counts from `watching_since_ms` at the earliest: a machine
// that rebooted while the server was down has had no chance to ask yet.
absl::Status FailLostReboots(Connection& c, int64_t now_ms, int64_t watching_since_ms) {
  ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT j.id, j.endpoint_id, j.run_id, j.attempt, j.seq, "
                                     "j.step_count, j.step_id, r.purpose, r.reboot_policy, "
                                     "j.reboot_ordered_ms, e.last_seen_ms FROM jobs j "
                                     "JOIN runs r ON r.id = j.run_id "
                                     "JOIN endpoints e ON e.id = j.endpoint_id "
                                     "WHERE j.reboot_ordered_ms > 0 AND j.state = 2"));
  struct Lost {
    std::string job_id, endpoint_id, run_id, message;
    JobView view;
  };
  std::vector<Lost> lost;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    v1::RebootPolicy policy;
    policy.ParseFromString(s.Text(8));
    int64_t timeout_ms =
        (policy.reboot_timeout_seconds() > 0 ? policy.reboot_timeout_seconds() : 3600) * 1000LL;
    int64_t ordered = s.Int(9);
    if (now_ms - std::max(ordered, watching_since_ms) < timeout_ms) continue;
    bool seen_since = s.Int(10) > ordered + 60'000;
    Lost l{s.Text(0), s.Text(1), s.Text(2), "", {}};
    l.view.attempt = static_cast<int>(s.Int(3));
    l.view.max_attempts = l.view.attempt;  // a machine that is down cannot retry
    l.view.seq = static_cast<int>(s.Int(4));
    l.view.step_count = static_cast<int>(s.Int(5));
    l.view.step_id = s.Text(6);
    l.view.purpose = static_cast<v1::PlanPurpose>(s.Int(7));
    l.message = absl::StrCat(
        "told to reboot at ",
        absl::FormatTime("%Y-%m-%d %H:%M:%SZ", absl::FromUnixMillis(ordered), absl::UTCTimeZone()),
        seen_since ? ", still up and not rebooted after " : ", not back after ",
        (now_ms - ordered) / 60'000,
        seen_since ? " min: the reboot did not happen (blocked, or refused by the machine)"
                   : " min: the machine may be down or stuck at boot");
    lost.push_back(std::move(l));
  }
  for (const auto& l : lost) {
    Transition t =
        Decide(l.view, {v1::STEP_OUTCOME_FAILED, v1::ERROR_CLASS_REBOOT_LOST, 0, l.message});
    RETURN_IF_ERROR(ApplyTransition(c, l.endpoint_id, l.job_id, l.run_id, l.view, t, 0, l.message,
                                    false, now_ms));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ExpiredLeases> SqliteStore::ExpireLeases(int64_t now_ms) {
  int64_t watching_since_ms = 0;
  {
    absl::MutexLock lock(&expire_mu_);
    if (first_expire_ms_ == 0) first_expire_ms_ = now_ms;
    watching_since_ms = first_expire_ms_;
  }
  ExpiredLeases out;
  absl::Status st = Write([&](Connection& c) -> absl::Status {
    out = {};
    struct Expired {
      std::string job_id, endpoint_id, run_id;
      JobView view;
    };
    std::vector<Expired> expired;
    {
      ASSIGN_OR_RETURN(Stmt s,
                       c.Prepare("SELECT j.id, j.endpoint_id, j.run_id, j.attempt, "
                                 "j.max_attempts, j.backoff_s, j.seq, j.step_count, j.step_id, "
                                 "r.purpose FROM jobs j JOIN runs r ON r.id = j.run_id "
                                 "WHERE j.state = 3 AND j.lease_expires_ms < ?"));
      s.Bind(1, now_ms);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        Expired e{s.Text(0), s.Text(1), s.Text(2), {}};
        e.view.attempt = static_cast<int>(s.Int(3));
        e.view.max_attempts = static_cast<int>(s.Int(4));
        e.view.backoff_s = static_cast<int>(s.Int(5));
        e.view.seq = static_cast<int>(s.Int(6));
        e.view.step_count = static_cast<int>(s.Int(7));
        e.view.step_id = s.Text(8);
        e.view.purpose = static_cast<v1::PlanPurpose>(s.Int(9));
        expired.push_back(std::move(e));
      }
    }
    RETURN_IF_ERROR(FailLostReboots(c, now_ms, watching_since_ms));
    for (const auto& e : expired) {
      StepResult result{v1::STEP_OUTCOME_FAILED, v1::ERROR_CLASS_TIMEOUT, 0,
                        "lease expired without a report"};
      Transition t = Decide(e.view, result);
      RETURN_IF_ERROR(ApplyTransition(c, e.endpoint_id, e.job_id, e.run_id, e.view, t, 0,
                                      result.message, true, now_ms));
      if (t.retry) out.requeued.push_back(e.endpoint_id);
    }
    out.expired = static_cast<int64_t>(expired.size());
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

namespace {

// The last onboarding run of each endpoint in `state` (and verified before `before_ms`).
absl::StatusOr<std::vector<Store::DueVerify>> LastOnboardRuns(Connection& c,
                                                              v1::EndpointState state,
                                                              int64_t before_ms, int limit) {
  ASSIGN_OR_RETURN(Stmt s,
                   c.Prepare("SELECT e.id, r.plan_name, r.params, r.plan_sha256 FROM endpoints e "
                             "JOIN runs r ON r.id = (SELECT j.run_id FROM jobs j JOIN runs r2 "
                             "ON r2.id = j.run_id WHERE j.endpoint_id = e.id AND r2.purpose = 1 "
                             "ORDER BY r2.created_ms DESC LIMIT 1) "
                             "WHERE e.state = ? AND e.verified_ms < ? LIMIT ?"));
  s.Bind(1, state).Bind(2, before_ms).Bind(3, limit);
  std::vector<Store::DueVerify> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back({s.Text(0), s.Text(1), s.Text(3), BlobMap(s.Text(2))});
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Store::DueVerify>> SqliteStore::DueForVerify(int64_t before_ms,
                                                                        int limit) {
  std::vector<DueVerify> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(out, LastOnboardRuns(c, v1::ENDPOINT_STATE_ONBOARDED, before_ms, limit));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<Store::DueVerify>> SqliteStore::Drifted(int limit) {
  std::vector<DueVerify> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(out, LastOnboardRuns(c, v1::ENDPOINT_STATE_DRIFTED, INT64_MAX, limit));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SqliteStore::CancelRun(const std::string& run_id, const std::string& endpoint_id,
                                    int64_t now_ms) {
  return Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE jobs SET state = 8, updated_ms = ? WHERE "
                                       "run_id = ? AND endpoint_id = ? AND state IN (1, 2)"));
    RETURN_IF_ERROR(s.Bind(1, now_ms).Bind(2, run_id).Bind(3, endpoint_id).Exec());
    if (sqlite3_changes(c.raw()) == 0) return absl::OkStatus();
    ASSIGN_OR_RETURN(Stmt leased, c.Prepare("SELECT 1 FROM jobs WHERE run_id = ? AND "
                                            "endpoint_id = ? AND state = 3"));
    leased.Bind(1, run_id).Bind(2, endpoint_id);
    ASSIGN_OR_RETURN(bool running, leased.Step());
    if (running) return absl::OkStatus();  // its report ends the run
    return EndInterruptedRun(c, endpoint_id, run_id, absl::StrCat("run ", run_id, " cancelled"),
                             now_ms);
  });
}

absl::StatusOr<Store::RunEnd> SqliteStore::RunOutcome(const std::string& run_id,
                                                      const std::string& endpoint_id) {
  RunEnd out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT state, step_id, message, id FROM jobs WHERE "
                                       "run_id = ? AND endpoint_id = ? ORDER BY seq"));
    s.Bind(1, run_id).Bind(2, endpoint_id);
    bool all_done = true, any = false;
    std::string failed_job;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      any = true;
      auto state = static_cast<v1::JobState>(s.Int(0));
      if (state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_SKIPPED) continue;
      all_done = false;
      if (state == v1::JOB_STATE_FAILED || state == v1::JOB_STATE_TIMED_OUT ||
          state == v1::JOB_STATE_BLOCKED || state == v1::JOB_STATE_CANCELLED) {
        out.state = state;
        out.detail = absl::StrCat(s.Text(1), ": ", s.Text(2));
        failed_job = s.Text(3);
      }
      break;  // the first step not done decides
    }
    if (any && all_done) out.state = v1::JOB_STATE_SUCCEEDED;
    if (out.state == v1::JOB_STATE_TIMED_OUT) out.error_class = v1::ERROR_CLASS_TIMEOUT;
    if (out.state == v1::JOB_STATE_BLOCKED) out.error_class = v1::ERROR_CLASS_PREREQUISITE;
    if (out.state == v1::JOB_STATE_FAILED) {
      ASSIGN_OR_RETURN(Stmt r, c.Prepare("SELECT error_class FROM reports WHERE job_id = ? "
                                         "ORDER BY attempt DESC LIMIT 1"));
      r.Bind(1, failed_job);
      ASSIGN_OR_RETURN(bool row, r.Step());
      if (row) out.error_class = static_cast<v1::ErrorClass>(r.Int(0));
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace purser::db
