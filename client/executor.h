// How an agent carries out a plan step's typed action on its machine. One
// interface, three machines: real Windows (built only on Windows), POSIX
// processes, and the simulated Windows endpoint (client/sim/).
#pragma once
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "purser/v1/agent.pb.h"
#include "purser/v1/plan.pb.h"

namespace purser::client {

struct ActionResult {
  v1::StepOutcome outcome = v1::STEP_OUTCOME_UNSPECIFIED;
  int exit_code = 0;
  v1::ErrorClass error_class = v1::ERROR_CLASS_UNSPECIFIED;
  std::string message;
  std::string output;
};

class Executor {
 public:
  virtual ~Executor() = default;
  // What the machine is now.
  virtual v1::Inventory Inventory() = 0;
  // Evaluates a check on the machine.
  virtual absl::StatusOr<bool> Evaluate(const v1::Check& check) = 0;
  // Runs the step's action with `params` (secrets included) within `timeout`.
  // Exit codes are classified by the caller; checks classify themselves.
  virtual ActionResult Run(const v1::Step& step, const std::map<std::string, std::string>& params,
                           absl::Duration timeout) = 0;
  // Reboots the machine. Returns once it is back (simulated), or an error when
  // it will not come back on its own.
  virtual absl::Status Reboot() = 0;
};

// Classifies an exit code by the step's table (Windows defaults when empty).
v1::StepOutcome ClassifyExitCode(const v1::ExitCodes& codes, int exit_code);

// Runs one job's step: skip-if, then the action, then exit-code meaning.
// Output and messages come back with the job's secrets redacted.
// `allow_run_command`: the endpoint's own install allowed arbitrary commands;
// otherwise a run_command step is refused here, whatever the server sends.
ActionResult ExecuteStep(Executor& executor, const v1::Job& job, bool allow_run_command = false);

// The report of `job`'s result, with the machine's inventory after the step
// and the agent's installation fingerprint.
v1::ReportResultRequest MakeReport(const v1::Job& job, const ActionResult& r, absl::Duration took,
                                   v1::Inventory inventory, const std::string& fingerprint);

}  // namespace purser::client
