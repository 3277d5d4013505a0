// What a step's result does to its job and its endpoint: a pure function, so
// every store implementation applies the same rules.
#pragma once
#include <cstdint>
#include <string>

#include "purser/v1/common.pb.h"
#include "purser/v1/plan.pb.h"

namespace purser::db {

struct JobView {
  int attempt = 1;
  int max_attempts = 3;
  int backoff_s = 30;
  int seq = 1;
  int step_count = 1;
  std::string step_id;
  v1::PlanPurpose purpose = v1::PLAN_PURPOSE_ONBOARD;
};

// Whether `now_ms` falls in the policy's daily window (always true but for
// MODE_MAINTENANCE_WINDOW); otherwise how long until it opens.
bool InRebootWindow(const v1::RebootPolicy& policy, int64_t now_ms, int64_t* opens_in_ms);

struct StepResult {
  v1::StepOutcome outcome = v1::STEP_OUTCOME_UNSPECIFIED;
  v1::ErrorClass error_class = v1::ERROR_CLASS_UNSPECIFIED;
  int exit_code = 0;
  std::string message;
};

struct Transition {
  v1::JobState job_state;  // the job after this attempt
  bool retry = false;      // job requeued as attempt + 1
  int64_t retry_delay_ms = 0;
  bool queue_next = false;  // the next step becomes QUEUED
  v1::EndpointState endpoint_state;
  v1::ErrorClass error_class = v1::ERROR_CLASS_UNSPECIFIED;
  std::string detail;  // the endpoint's state detail
};

// The effect of one attempt's result. A lease that expired is a FAILED result
// with ERROR_CLASS_TIMEOUT, and ends the job TIMED_OUT once attempts are spent.
Transition Decide(const JobView& job, const StepResult& result);

// The endpoint state while a run of `purpose` is in progress.
v1::EndpointState RunningState(v1::PlanPurpose purpose);
// Endpoint states in which a run is under way (the endpoint is busy).
bool IsBusy(v1::EndpointState state);

}  // namespace purser::db
