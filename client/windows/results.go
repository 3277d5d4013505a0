package windows

import (
	"fmt"
	"strings"
	"time"

	"purser/client/agent"
	pb "purserpb/v1"
)

// Results and messages of the actions. wusaMessage words what client/sim's
// simulated wusa words the same way, so that an update's report reads the
// same on both; the other messages are this executor's own.

// Exit codes the messages tell apart. What an exit code means for the
// step's outcome is agent.ClassifyExitCode's to say (with the step's
// table); these only word the message, and tell a restart required from
// one already started, which the outcome does not.
const (
	exitRebootRequired  = 3010
	exitRebootInitiated = 1641
	exitUnknownProduct  = 1605 // msiexec: the product is not installed
)

func statusName(s pb.ServiceStatus) string {
	return agent.ShortEnum(s.String(), "SERVICE_STATUS_")
}

// serviceState is what the service control manager says of a service:
// the plan's status, and the SCM's own state name when they differ
// (START_PENDING counts as STOPPED: it is not running yet).
type serviceState struct {
	Status pb.ServiceStatus
	State  string
}

// scmState maps SERVICE_STATUS.dwCurrentState.
func scmState(current uint32) serviceState {
	names := map[uint32]string{1: "STOPPED", 2: "START_PENDING", 3: "STOP_PENDING", 4: "RUNNING",
		5: "CONTINUE_PENDING", 6: "PAUSE_PENDING", 7: "PAUSED"}
	name, ok := names[current]
	if !ok {
		name = fmt.Sprintf("STATE_%d", current)
	}
	if current == 4 {
		return serviceState{Status: pb.ServiceStatus_SERVICE_STATUS_RUNNING, State: name}
	}
	return serviceState{Status: pb.ServiceStatus_SERVICE_STATUS_STOPPED, State: name}
}

func (s serviceState) String() string {
	short := statusName(s.Status)
	if s.State == "" || s.State == short {
		return short
	}
	return short + " (" + s.State + ")"
}

// serviceCheckResult: the service is in the expected status, or it is not
// and the step says whether that fails it.
func serviceCheckResult(name string, have serviceState, expect pb.ServiceStatus, required bool) agent.ActionResult {
	state := "sc query " + name + ": " + have.String()
	switch {
	case have.Status == expect:
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, state)
	case !required:
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, state+" (recommended, not required)")
	}
	return agent.Failed(pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, 0, state+", expected "+statusName(expect))
}

// prerequisiteResult: a prerequisite the plan cannot install blocks the
// endpoint, naming it.
func prerequisiteResult(name string, held bool) agent.ActionResult {
	if held {
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, name+" present")
	}
	r := agent.Done(pb.StepOutcome_STEP_OUTCOME_BLOCKED, "missing prerequisite: "+name)
	r.ErrorClass = pb.ErrorClass_ERROR_CLASS_PREREQUISITE
	return r
}

func fileCheckResult(path string, exists bool) agent.ActionResult {
	if exists {
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, path+" exists")
	}
	return agent.Failed(pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, 0, path+" does not exist")
}

// hresultText names the failures an update or installer reports most.
var hresultText = map[uint32]string{
	0x80070005: "access denied: the agent must run as SYSTEM or an administrator",
	0x8007000d: "the package is corrupt",
	0x80070422: "the Windows Update service (wuauserv) is disabled, and wusa needs it",
	0x80070643: "fatal error during installation",
	0x80240016: "another installation is running, or a mandatory restart is pending",
	0x80096010: "the package's signature does not verify (SHA-2 code signing support, KB4474419, may be missing)",
	0x800b0109: "the package's signature chains to an untrusted root",
}

// wusaMessage says what a wusa exit code means for kb.
func wusaMessage(kb, pkg string, code int32) string {
	switch code {
	case 0:
		return kb + " installed"
	case exitRebootRequired:
		return kb + " installed; a restart is required"
	case exitRebootInitiated:
		return kb + " installed; a restart was started"
	}
	// WU_S_ALREADY_INSTALLED and WU_E_NOT_APPLICABLE, by default.
	switch agent.ClassifyExitCode(nil, code) {
	case pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE:
		return kb + " is already installed"
	case pb.StepOutcome_STEP_OUTCOME_SKIPPED:
		return kb + " (" + pkg + ") does not apply to this system"
	}
	if text, ok := hresultText[uint32(code)]; ok {
		return fmt.Sprintf("%s: %s (0x%08X)", kb, text, uint32(code))
	}
	return fmt.Sprintf("%s: wusa.exe failed with 0x%08X", kb, uint32(code))
}

var msiexecText = map[int32]string{
	1602: "cancelled",
	1603: "fatal error during installation",
	1618: "another installation is in progress",
	1619: "the package cannot be opened",
	1625: "prohibited by system policy",
	1638: "another version of the product is installed",
}

// installerMessage says what a Windows Installer exit code means.
func installerMessage(what string, code int32) string {
	switch code {
	case 0:
		return what + " succeeded"
	case exitRebootRequired:
		return what + " succeeded; a restart is required"
	case exitRebootInitiated:
		return what + " succeeded; a restart was started"
	}
	if text, ok := msiexecText[code]; ok {
		return fmt.Sprintf("%s failed with exit code %d: %s", what, code, text)
	}
	if text, ok := hresultText[uint32(code)]; ok {
		return fmt.Sprintf("%s failed: %s (0x%08X)", what, text, uint32(code))
	}
	return fmt.Sprintf("%s failed with exit code %d", what, code)
}

// limit is a step's time: its deadline, and the timeout it came from
// (for messages).
type limit struct {
	at    time.Time
	total time.Duration
}

// timeoutResult: the action overran its time and was killed with its
// process tree.
func timeoutResult(what string, timeout time.Duration, output string) agent.ActionResult {
	r := agent.Failed(pb.ErrorClass_ERROR_CLASS_TIMEOUT, 0,
		fmt.Sprintf("%s did not finish within %s: killed with the processes it started", what, timeout.Round(time.Second)))
	r.Output = output
	return r
}

// shownArg is an argument as output may show it: one that references a
// secret is shown as the plan wrote it (naming the secret), never expanded.
func shownArg(template, expanded string) string {
	if strings.Contains(template, "${secret:") {
		return template
	}
	return expanded
}
