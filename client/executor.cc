#include "client/executor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "shared/logging.h"
#include "shared/plan/effective_plan.h"

namespace purser::client {
namespace {

constexpr int kRebootRequired = 3010;
constexpr int kRebootInitiated = 1641;
constexpr int kAlreadyInstalled = 2359302;   // 0x00240006 WU_S_ALREADY_INSTALLED
constexpr int kNotApplicable = -2145124329;  // 0x80240017 WU_E_NOT_APPLICABLE

bool In(const google::protobuf::RepeatedField<int32_t>& list, int code) {
  return std::find(list.begin(), list.end(), code) != list.end();
}

}  // namespace

v1::StepOutcome ClassifyExitCode(const v1::ExitCodes& codes, int exit_code) {
  bool custom = codes.success_size() + codes.reboot_required_size() + codes.already_done_size() +
                    codes.not_applicable_size() >
                0;
  if (custom) {
    if (In(codes.success(), exit_code)) return v1::STEP_OUTCOME_SUCCEEDED;
    if (In(codes.reboot_required(), exit_code)) return v1::STEP_OUTCOME_REBOOT_REQUIRED;
    if (In(codes.already_done(), exit_code)) return v1::STEP_OUTCOME_ALREADY_DONE;
    if (In(codes.not_applicable(), exit_code)) return v1::STEP_OUTCOME_SKIPPED;
    return v1::STEP_OUTCOME_FAILED;
  }
  switch (exit_code) {
    case 0:
      return v1::STEP_OUTCOME_SUCCEEDED;
    case kRebootRequired:
    case kRebootInitiated:
      return v1::STEP_OUTCOME_REBOOT_REQUIRED;
    case kAlreadyInstalled:
      return v1::STEP_OUTCOME_ALREADY_DONE;
    case kNotApplicable:
      return v1::STEP_OUTCOME_SKIPPED;
    default:
      return v1::STEP_OUTCOME_FAILED;
  }
}

ActionResult ExecuteStep(Executor& executor, const v1::Job& job) {
  const v1::Step& step = job.step();
  std::map<std::string, std::string> params(job.params().begin(), job.params().end());
  for (const auto& [k, v] : params) {
    if (k.rfind("secret:", 0) == 0) RegisterSecret(v);
  }
  ActionResult r;
  if (step.has_skip_if()) {
    auto skip = executor.Evaluate(step.skip_if());
    if (!skip.ok()) {
      r.outcome = v1::STEP_OUTCOME_FAILED;
      r.error_class = v1::ERROR_CLASS_AGENT;
      r.message = absl::StrCat("skip_if: ", skip.status().message());
      return r;
    }
    if (*skip) {
      r.outcome = v1::STEP_OUTCOME_SKIPPED;
      r.message = "skip_if holds: already in place";
      return r;
    }
  }
  r = executor.Run(step, params, absl::Seconds(StepTimeoutSeconds(step)));
  if (r.outcome == v1::STEP_OUTCOME_UNSPECIFIED) {
    r.outcome = ClassifyExitCode(step.exit_codes(), r.exit_code);
    if (r.outcome == v1::STEP_OUTCOME_FAILED && r.error_class == v1::ERROR_CLASS_UNSPECIFIED) {
      r.error_class = v1::ERROR_CLASS_EXIT_CODE;
      if (r.message.empty()) r.message = absl::StrCat("exit code ", r.exit_code);
    }
  }
  r.message = Redact(r.message);
  r.output = Redact(r.output);
  if (r.output.size() > 16 * 1024) r.output = r.output.substr(r.output.size() - 16 * 1024);
  return r;
}

v1::ReportResultRequest MakeReport(const v1::Job& job, const ActionResult& r, absl::Duration took,
                                   v1::Inventory inventory, const std::string& fingerprint) {
  v1::ReportResultRequest rep;
  rep.set_job_id(job.job_id());
  rep.set_attempt(job.attempt());
  rep.set_outcome(r.outcome);
  rep.set_exit_code(r.exit_code);
  rep.set_error_class(r.error_class);
  rep.set_message(r.message);
  rep.set_output_tail(r.output);
  rep.set_duration_ms(absl::ToInt64Milliseconds(took));
  *rep.mutable_inventory() = std::move(inventory);
  rep.mutable_inventory()->set_agent_nonce(fingerprint);
  rep.mutable_inventory()->set_agent_version(PURSER_VERSION);
  return rep;
}

}  // namespace purser::client
