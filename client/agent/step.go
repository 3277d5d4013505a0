package agent

import (
	"fmt"
	"strings"
	"time"

	"purser/client/agentlog"
	pb "purserpb/v1"
)

// Windows exit codes every installer shares.
const (
	exitRebootRequired   = 3010
	exitRebootInitiated  = 1641
	exitAlreadyInstalled = 0x00240006  // WU_S_ALREADY_INSTALLED
	exitNotApplicable    = -2145124329 // 0x80240017 WU_E_NOT_APPLICABLE
	maxOutputBytes       = 16 * 1024
)

func contains(list []int32, code int32) bool {
	for _, c := range list {
		if c == code {
			return true
		}
	}
	return false
}

// ClassifyExitCode gives an exit code its meaning by the step's table
// (Windows defaults when the table is empty).
func ClassifyExitCode(codes *pb.ExitCodes, code int32) pb.StepOutcome {
	if len(codes.GetSuccess())+len(codes.GetRebootRequired())+len(codes.GetAlreadyDone())+len(codes.GetNotApplicable()) > 0 {
		switch {
		case contains(codes.GetSuccess(), code):
			return pb.StepOutcome_STEP_OUTCOME_SUCCEEDED
		case contains(codes.GetRebootRequired(), code):
			return pb.StepOutcome_STEP_OUTCOME_REBOOT_REQUIRED
		case contains(codes.GetAlreadyDone(), code):
			return pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE
		case contains(codes.GetNotApplicable(), code):
			return pb.StepOutcome_STEP_OUTCOME_SKIPPED
		}
		return pb.StepOutcome_STEP_OUTCOME_FAILED
	}
	switch code {
	case 0:
		return pb.StepOutcome_STEP_OUTCOME_SUCCEEDED
	case exitRebootRequired, exitRebootInitiated:
		return pb.StepOutcome_STEP_OUTCOME_REBOOT_REQUIRED
	case exitAlreadyInstalled:
		return pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE
	case exitNotApplicable:
		return pb.StepOutcome_STEP_OUTCOME_SKIPPED
	}
	return pb.StepOutcome_STEP_OUTCOME_FAILED
}

// DescribeCheck says what a check means, as an operator reads it.
func DescribeCheck(c *pb.Check) string {
	switch x := c.GetCheck().(type) {
	case *pb.Check_FileExists:
		return x.FileExists + " exists"
	case *pb.Check_KbInstalled:
		return x.KbInstalled + " is installed"
	case *pb.Check_DotnetAtLeast:
		return ".NET Framework " + x.DotnetAtLeast + " or later is installed"
	case *pb.Check_Service:
		return "service " + x.Service.GetName() + " is " +
			ShortEnum(x.Service.GetStatus().String(), "SERVICE_STATUS_")
	}
	return strings.TrimSpace(fmt.Sprint(c))
}

// heldCheck is the check of a skip_if that held: for any_of, the first
// alternative that did.
func heldCheck(e Executor, c *pb.Check) string {
	if any := c.GetAnyOf(); any != nil {
		for _, alt := range any.GetChecks() {
			if held, err := e.Evaluate(alt); err == nil && held {
				return heldCheck(e, alt)
			}
		}
	}
	return DescribeCheck(c)
}

// ExecuteStep runs one job's step: skip_if, then the action, then the exit
// code's meaning. Output and messages come back with secrets redacted.
// allowRunCommand: the endpoint's own install allowed arbitrary commands;
// otherwise a run_command step is refused here, whatever the server sends.
func ExecuteStep(e Executor, step *pb.Step, params map[string]string, allowRunCommand bool) ActionResult {
	if step.GetRunCommand() != nil && !allowRunCommand {
		// A compromised server must not gain a shell on endpoints that never opted in.
		return Failed(pb.ErrorClass_ERROR_CLASS_UNSUPPORTED_ACTION, 0,
			"run_command is not allowed on this endpoint (its agent was installed without --allow_run_command)")
	}
	for k, v := range params {
		if strings.HasPrefix(k, "secret:") {
			agentlog.RegisterSecret(v)
		}
	}
	if skip := step.GetSkipIf(); skip != nil {
		held, err := e.Evaluate(skip)
		if err != nil {
			return Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0, "skip_if: "+agentlog.Redact(err.Error()))
		}
		if held {
			return Done(pb.StepOutcome_STEP_OUTCOME_SKIPPED, "skipped: "+heldCheck(e, skip))
		}
	}
	r := e.Run(step, params, StepTimeout(step))
	if r.Outcome == pb.StepOutcome_STEP_OUTCOME_UNSPECIFIED {
		r.Outcome = ClassifyExitCode(step.GetExitCodes(), r.ExitCode)
		if r.Outcome == pb.StepOutcome_STEP_OUTCOME_FAILED && r.ErrorClass == pb.ErrorClass_ERROR_CLASS_UNSPECIFIED {
			r.ErrorClass = pb.ErrorClass_ERROR_CLASS_EXIT_CODE
			if r.Message == "" {
				r.Message = fmt.Sprintf("exit code %d", r.ExitCode)
			}
		}
	}
	r.Message = agentlog.Redact(r.Message)
	r.Output = agentlog.Redact(r.Output)
	if n := len(r.Output); n > maxOutputBytes {
		r.Output = fmt.Sprintf("[%d earlier bytes of output dropped]\n", n-maxOutputBytes) +
			r.Output[n-maxOutputBytes:]
	}
	// Reports carry text: a tool's output in an OEM code page, or cut
	// mid-character above, must still be valid UTF-8 on the wire.
	r.Message = strings.ToValidUTF8(r.Message, "\uFFFD")
	r.Output = strings.ToValidUTF8(r.Output, "\uFFFD")
	return r
}

// MakeReport is the report of job's result, with the machine's inventory
// after the step and the agent's installation fingerprint.
func MakeReport(job *pb.Job, r ActionResult, took time.Duration, inv *pb.Inventory, fingerprint string) *pb.ReportResultRequest {
	inv = cloneInventory(inv)
	stamp(inv, fingerprint)
	return &pb.ReportResultRequest{
		JobId:      job.GetJobId(),
		Attempt:    job.GetAttempt(),
		Outcome:    r.Outcome,
		ExitCode:   r.ExitCode,
		ErrorClass: r.ErrorClass,
		Message:    r.Message,
		OutputTail: r.Output,
		DurationMs: took.Milliseconds(),
		Inventory:  inv,
	}
}
