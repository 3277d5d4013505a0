#include "client/executor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "shared/logging.h"
#include "shared/plan/effective_plan.h"
#include "shared/plan/platform.h"

namespace purser::client {
namespace {

constexpr int kRebootRequired = 3010;
constexpr int kRebootInitiated = 1641;
constexpr int kAlreadyInstalled = 2359302;   // 0x00240006 WU_S_ALREADY_INSTALLED
constexpr int kNotApplicable = -2145124329;  // 0x80240017 WU_E_NOT_APPLICABLE

bool In(const google::protobuf::RepeatedField<int32_t>& list, int code) {
  return std::find(list.begin(), list.end(), code) != list.end();
}

// What a check says, as an operator reads it.
std::string DescribeCheck(const v1::Check& c) {
  switch (c.check_case()) {
    case v1::Check::kFileExists:
      return absl::StrCat(c.file_exists(), " exists");
    case v1::Check::kKbInstalled:
      return absl::StrCat(c.kb_installed(), " is installed");
    case v1::Check::kDotnetAtLeast:
      return absl::StrCat(".NET Framework ", c.dotnet_at_least(), " or later is installed");
    case v1::Check::kService:
      return absl::StrCat(
          "service ", c.service().name(), " is ",
          ShortEnumName(v1::ServiceStatus_Name(c.service().status()), "SERVICE_STATUS_"));
    default:
      return c.ShortDebugString();
  }
}

// The check of a skip_if that held: for any_of, the first alternative that did.
std::string HeldCheck(Executor& executor, const v1::Check& check) {
  if (check.check_case() == v1::Check::kAnyOf) {
    for (const auto& alt : check.any_of().checks()) {
      auto held = executor.Evaluate(alt);
      if (held.ok() && *held) return HeldCheck(executor, alt);
    }
  }
  return DescribeCheck(check);
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

ActionResult ExecuteStep(Executor& executor, const v1::Job& job, bool allow_run_command) {
  const v1::Step& step = job.step();
  if (step.action_case() == v1::Step::kRunCommand && !allow_run_command) {
    // A compromised server must not gain a shell on endpoints that never opted in.
    ActionResult refused;
    refused.outcome = v1::STEP_OUTCOME_FAILED;
    refused.error_class = v1::ERROR_CLASS_UNSUPPORTED_ACTION;
    refused.message =
        "run_command is not allowed on this endpoint (its agent was installed without "
        "--allow_run_command)";
    return refused;
  }
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
      r.message = absl::StrCat("skipped: ", HeldCheck(executor, step.skip_if()));
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
