package windows

import (
	"fmt"
	"strconv"

	"purser/client/agent"
	pb "purserpb/v1"
)

// What each MMA configuration script's reply means for its step.

func mmaFailure(call string, reply mmaReply, exitCode int32) agent.ActionResult {
	detail := reply.Detail
	if detail == "" {
		detail = "no detail"
	}
	return agent.Failed(pb.ErrorClass_ERROR_CLASS_EXIT_CODE, exitCode, call+" failed: "+detail)
}

func mmaUnexpected(call string, reply mmaReply) agent.ActionResult {
	return agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0,
		fmt.Sprintf("%s: unexpected reply %q from the configuration script", call, reply.Word))
}

// addWorkspaceResult: ours is added when missing; already there, nothing
// changes.
func addWorkspaceResult(id string, reply mmaReply, exitCode int32) agent.ActionResult {
	call := "AddCloudWorkspace(" + id + ")"
	switch reply.Word {
	case "NO-MMA":
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, 0, "MMA is not installed")
	case "ALREADY":
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, "workspace "+id+" already configured")
	case "ADDED":
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, call+"; ReloadConfiguration()")
	case "ERROR":
		return mmaFailure(call, reply, exitCode)
	}
	return mmaUnexpected(call, reply)
}

// removeWorkspaceResult: a workspace (or an MMA) already gone is done.
func removeWorkspaceResult(id string, reply mmaReply, exitCode int32) agent.ActionResult {
	call := "RemoveCloudWorkspace(" + id + ")"
	switch reply.Word {
	case "NO-MMA":
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, "MMA is not installed")
	case "NOT-FOUND":
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, "workspace "+id+" not configured")
	case "REMOVED":
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, call+"; ReloadConfiguration()")
	case "ERROR":
		return mmaFailure(call, reply, exitCode)
	}
	return mmaUnexpected(call, reply)
}

// checkWorkspaceResult: the workspace is configured; its connection status
// is reported, not judged (the sensor check follows).
func checkWorkspaceResult(id string, reply mmaReply, exitCode int32) agent.ActionResult {
	call := "GetCloudWorkspace(" + id + ")"
	switch reply.Word {
	case "NO-MMA":
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, 0,
			"workspace "+id+" is not configured in MMA (MMA is not installed)")
	case "NOT-FOUND":
		msg := "workspace " + id + " is not configured in MMA"
		if n, err := strconv.Atoi(reply.Detail); err == nil && n > 0 {
			msg += " (it reports to other workspaces)"
		}
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, 0, msg)
	case "FOUND":
		msg := "workspace " + id + " configured"
		if reply.Detail != "" {
			msg += " (" + reply.Detail + ")"
		}
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, msg)
	case "ERROR":
		return mmaFailure(call, reply, exitCode)
	}
	return mmaUnexpected(call, reply)
}

// mmaProxyResult: MMA's own proxy is set (or cleared).
func mmaProxyResult(proxy string, reply mmaReply, exitCode int32) agent.ActionResult {
	switch reply.Word {
	case "NO-MMA":
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, 0, "MMA is not installed")
	case "PROXY-SET":
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, winHTTPProxy{Proxy: proxy}.String())
	case "ERROR":
		return mmaFailure("SetProxyInfo", reply, exitCode)
	}
	return mmaUnexpected("SetProxyInfo", reply)
}
