// Package agent is the Purser agent: enrollment, the job loop, the journal,
// staging and reporting. How a step is carried out on the machine is an
// Executor: the real Windows machine (client/windows) or the simulated one
// (client/sim).
package agent

import (
	"errors"
	"time"

	pb "purserpb/v1"
)

// ActionResult is what a step's action did. An unspecified outcome means
// "classify the exit code by the step's table".
type ActionResult struct {
	Outcome    pb.StepOutcome
	ExitCode   int32
	ErrorClass pb.ErrorClass
	Message    string
	Output     string
}

// Executor carries out a plan step's typed action on its machine.
type Executor interface {
	// Inventory is what the machine is now.
	Inventory() *pb.Inventory
	// Evaluate evaluates a check on the machine.
	Evaluate(check *pb.Check) (bool, error)
	// Run runs the step's action with params (secrets included) within
	// timeout. Exit codes are classified by the caller; checks classify
	// themselves.
	Run(step *pb.Step, params map[string]string, timeout time.Duration) ActionResult
	// Reboot reboots the machine. It returns nil once the machine is back
	// (simulated), ErrRebootOrdered once the OS was told to restart (real:
	// the shutdown ends the agent), an error wrapping ErrMachineGone when
	// the machine will never come back, or another error when the reboot
	// could not be ordered.
	Reboot() error
}

// ErrMachineGone: the machine did not come back from a reboot; the agent
// stops.
var ErrMachineGone = errors.New("the machine did not come back from its reboot")

// ErrRebootOrdered: the OS is restarting the machine; the agent waits to be
// stopped by the shutdown and resumes from its journal after the boot.
var ErrRebootOrdered = errors.New("reboot ordered")

// rebootGrace is how long the agent waits for an ordered reboot to end it
// before it goes on (an administrator may have cancelled the shutdown).
const rebootGrace = 15 * time.Minute

// Failed is a FAILED result of class cls.
func Failed(cls pb.ErrorClass, exitCode int32, message string) ActionResult {
	return ActionResult{Outcome: pb.StepOutcome_STEP_OUTCOME_FAILED, ErrorClass: cls, ExitCode: exitCode, Message: message}
}

// Done is a result with the given outcome and message.
func Done(outcome pb.StepOutcome, message string) ActionResult {
	return ActionResult{Outcome: outcome, Message: message}
}
