#include "db/state_machine.h"

#include "absl/strings/str_cat.h"
#include "shared/plan/platform.h"

namespace purser::db {

v1::EndpointState RunningState(v1::PlanPurpose purpose) {
  return purpose == v1::PLAN_PURPOSE_OFFBOARD ? v1::ENDPOINT_STATE_OFFBOARDING
                                              : v1::ENDPOINT_STATE_IN_PROGRESS;
}

bool IsBusy(v1::EndpointState state) {
  return state == v1::ENDPOINT_STATE_QUEUED || state == v1::ENDPOINT_STATE_IN_PROGRESS ||
         state == v1::ENDPOINT_STATE_WAITING_REBOOT || state == v1::ENDPOINT_STATE_OFFBOARDING;
}

bool InRebootWindow(const v1::RebootPolicy& policy, int64_t now_ms, int64_t* opens_in_ms) {
  *opens_in_ms = 0;
  if (policy.mode() != v1::RebootPolicy::MODE_MAINTENANCE_WINDOW) return true;
  int64_t minute = (now_ms / 60'000) % 1440;
  int64_t start = policy.window_start_minute(), end = policy.window_end_minute();
  bool in = start <= end ? (minute >= start && minute < end) : (minute >= start || minute < end);
  if (!in) *opens_in_ms = ((start - minute + 1440) % 1440) * 60'000 - now_ms % 60'000;
  return in;
}

Transition Decide(const JobView& job, const StepResult& result) {
  Transition t;
  bool last = job.seq >= job.step_count;
  v1::EndpointState done = job.purpose == v1::PLAN_PURPOSE_OFFBOARD ? v1::ENDPOINT_STATE_OFFBOARDED
                                                                    : v1::ENDPOINT_STATE_ONBOARDED;
  v1::EndpointState failed = job.purpose == v1::PLAN_PURPOSE_VERIFY ? v1::ENDPOINT_STATE_DRIFTED
                                                                    : v1::ENDPOINT_STATE_FAILED;
  std::string where = absl::StrCat("step ", job.seq, "/", job.step_count, " ", job.step_id);
  switch (result.outcome) {
    case v1::STEP_OUTCOME_SUCCEEDED:
    case v1::STEP_OUTCOME_ALREADY_DONE:
    case v1::STEP_OUTCOME_SKIPPED:
      t.job_state = result.outcome == v1::STEP_OUTCOME_SKIPPED ? v1::JOB_STATE_SKIPPED
                                                               : v1::JOB_STATE_SUCCEEDED;
      t.queue_next = !last;
      t.endpoint_state = last ? done : RunningState(job.purpose);
      t.detail = last ? "" : absl::StrCat(where, " done");
      return t;
    case v1::STEP_OUTCOME_REBOOT_REQUIRED:
      t.job_state = v1::JOB_STATE_SUCCEEDED;
      t.queue_next = !last;
      t.endpoint_state = last ? done : v1::ENDPOINT_STATE_WAITING_REBOOT;
      t.detail = absl::StrCat(where, " needs a reboot to take effect");
      return t;
    case v1::STEP_OUTCOME_BLOCKED:
      t.job_state = v1::JOB_STATE_BLOCKED;
      t.endpoint_state = v1::ENDPOINT_STATE_BLOCKED;
      t.error_class = v1::ERROR_CLASS_PREREQUISITE;
      t.detail = absl::StrCat(where, ": ", result.message);
      return t;
    case v1::STEP_OUTCOME_FAILED:
    case v1::STEP_OUTCOME_UNSPECIFIED:
    default: {
      bool timeout = result.error_class == v1::ERROR_CLASS_TIMEOUT;
      std::string why =
          absl::StrCat(where, " attempt ", job.attempt, "/", job.max_attempts, ": ",
                       ShortEnumName(v1::ErrorClass_Name(result.error_class), "ERROR_CLASS_"),
                       result.message.empty() ? "" : absl::StrCat(": ", result.message));
      t.error_class = result.error_class;
      if (job.attempt < job.max_attempts) {
        t.job_state = v1::JOB_STATE_QUEUED;
        t.retry = true;
        int64_t delay = static_cast<int64_t>(job.backoff_s) * 1000;
        for (int i = 1; i < job.attempt && delay < 3'600'000; ++i) delay *= 2;
        t.retry_delay_ms = delay;
        t.endpoint_state = RunningState(job.purpose);
        t.detail = absl::StrCat(why, "; retrying");
      } else {
        t.job_state = timeout ? v1::JOB_STATE_TIMED_OUT : v1::JOB_STATE_FAILED;
        t.endpoint_state = failed;
        t.detail = why;
      }
      return t;
    }
  }
}

}  // namespace purser::db
