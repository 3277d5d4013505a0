// Real processes on a POSIX machine: run_command (argv, never a shell) with a
// timeout, exit code and capped output; file checks. Other Windows actions
// report ERROR_CLASS_UNSUPPORTED_ACTION.
#pragma once
#include "client/executor.h"

namespace purser::client {

class PosixExecutor : public Executor {
 public:
  v1::Inventory Inventory() override;
  absl::StatusOr<bool> Evaluate(const v1::Check& check) override;
  ActionResult Run(const v1::Step& step, const std::map<std::string, std::string>& params,
                   absl::Duration timeout) override;
  absl::Status Reboot() override;
};

struct ProcessResult {
  int exit_code = 0;
  bool timed_out = false;
  std::string output;  // stdout and stderr, the last `max_output` bytes
};

// Runs argv[0] (searched in PATH) with `argv`; kills it at `timeout`.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         absl::Duration timeout, size_t max_output = 64 * 1024);

}  // namespace purser::client
