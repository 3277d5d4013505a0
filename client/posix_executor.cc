#include "client/posix_executor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "shared/files.h"
#include "shared/plan/effective_plan.h"

namespace purser::client {

absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         absl::Duration timeout, size_t max_output) {
  if (argv.empty()) return absl::InvalidArgumentError("argv is empty");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return absl::InternalError(absl::StrCat("fork failed: ", std::strerror(errno)));
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group, so a timeout kills its children too
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execvp(args[0], args.data());
    std::string msg = absl::StrCat("cannot execute ", argv[0], ": ", std::strerror(errno), "\n");
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  ::close(fds[1]);
  ProcessResult r;
  absl::Time deadline = absl::Now() + timeout;
  char buf[8192];
  bool open = true;
  while (open) {
    int ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (ms <= 0) {
      r.timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1, std::min(ms, 1000));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    ssize_t got = ::read(fds[0], buf, sizeof(buf));
    if (got <= 0) {
      open = false;
    } else {
      r.output.append(buf, static_cast<size_t>(got));
      if (r.output.size() > 2 * max_output) r.output.erase(0, r.output.size() - max_output);
    }
  }
  ::close(fds[0]);
  // The output can end long before the process does (it closed its pipes):
  // the deadline still holds for the process itself.
  int status = 0;
  while (!r.timed_out) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (absl::Now() >= deadline) {
      r.timed_out = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (r.timed_out) {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (r.output.size() > max_output) r.output.erase(0, r.output.size() - max_output);
  if (WIFEXITED(status))
    r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    r.exit_code = 128 + WTERMSIG(status);
  return r;
}

v1::Inventory PosixExecutor::Inventory() {
  v1::Inventory inv;
  utsname u;
  if (::uname(&u) == 0) {
    inv.set_hostname(u.nodename);
    inv.mutable_os()->set_version(u.release);
    inv.mutable_os()->set_arch(std::string(u.machine) == "x86_64" ? v1::ARCH_X64 : v1::ARCH_X86);
  }
  inv.mutable_os()->set_product(v1::OS_PRODUCT_LINUX);
  return inv;
}

absl::StatusOr<bool> PosixExecutor::Evaluate(const v1::Check& check) {
  switch (check.check_case()) {
    case v1::Check::kFileExists:
      return PathExists(check.file_exists());
    case v1::Check::kAnyOf:
      for (const auto& c : check.any_of().checks()) {
        auto v = Evaluate(c);
        if (!v.ok()) return v.status();
        if (*v) return true;
      }
      return false;
    default:
      return absl::UnimplementedError("this check needs a Windows endpoint");
  }
}

ActionResult PosixExecutor::Run(const v1::Step& step,
                                const std::map<std::string, std::string>& params,
                                absl::Duration timeout) {
  ActionResult r;
  switch (step.action_case()) {
    case v1::Step::kRunCommand: {
      std::vector<std::string> argv;
      for (const auto& a : step.run_command().argv()) {
        auto expanded = ExpandRefs(a, params);
        if (!expanded.ok()) {
          r.outcome = v1::STEP_OUTCOME_FAILED;
          r.error_class = v1::ERROR_CLASS_AGENT;
          r.message = std::string(expanded.status().message());
          return r;
        }
        argv.push_back(*expanded);
      }
      auto p = RunProcess(argv, timeout);
      if (!p.ok()) {
        r.outcome = v1::STEP_OUTCOME_FAILED;
        r.error_class = v1::ERROR_CLASS_AGENT;
        r.message = std::string(p.status().message());
        return r;
      }
      r.exit_code = p->exit_code;
      r.output = p->output;
      if (p->timed_out) {
        r.outcome = v1::STEP_OUTCOME_FAILED;
        r.error_class = v1::ERROR_CLASS_TIMEOUT;
        r.message = absl::StrCat("killed after ", absl::FormatDuration(timeout));
      }
      return r;
    }
    case v1::Step::kCheckFile:
      r.outcome = PathExists(step.check_file().path()) ? v1::STEP_OUTCOME_SUCCEEDED
                                                       : v1::STEP_OUTCOME_FAILED;
      if (r.outcome == v1::STEP_OUTCOME_FAILED) {
        r.error_class = v1::ERROR_CLASS_CHECK_FAILED;
        r.message = absl::StrCat(step.check_file().path(), " does not exist");
      }
      return r;
    default:
      r.outcome = v1::STEP_OUTCOME_FAILED;
      r.error_class = v1::ERROR_CLASS_UNSUPPORTED_ACTION;
      r.message = "the POSIX executor runs only run_command and check_file";
      return r;
  }
}

absl::Status PosixExecutor::Reboot() {
  return absl::UnimplementedError("the POSIX executor does not reboot its host");
}

}  // namespace purser::client
