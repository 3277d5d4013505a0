package windows

import (
	"strings"
	"testing"
	"time"

	"purser/client/agent"
	pb "purserpb/v1"
)

func wrap(r agent.ActionResult) func() (pb.StepOutcome, pb.ErrorClass, string) {
	return func() (pb.StepOutcome, pb.ErrorClass, string) { return r.Outcome, r.ErrorClass, r.Message }
}

func TestServiceCheckResult(t *testing.T) {
	running, stopped := pb.ServiceStatus_SERVICE_STATUS_RUNNING, pb.ServiceStatus_SERVICE_STATUS_STOPPED
	absent := serviceState{Status: pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED}
	if s := scmState(4); s.Status != running || s.String() != "RUNNING" {
		t.Errorf("RUNNING: %+v %s", s, s)
	}
	if s := scmState(2); s.Status != stopped || s.String() != "STOPPED (START_PENDING)" {
		t.Errorf("START_PENDING: %+v %s", s, s)
	}
	cases := []struct {
		r       agent.ActionResult
		outcome pb.StepOutcome
		class   pb.ErrorClass
		message string
	}{
		{serviceCheckResult("sense", scmState(4), running, true), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "sc query sense: RUNNING"},
		{serviceCheckResult("sense", absent, running, true), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, "sc query sense: NOT_INSTALLED, expected RUNNING"},
		{serviceCheckResult("windefend", scmState(1), running, false), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "sc query windefend: STOPPED (recommended, not required)"},
		{serviceCheckResult("sense", absent, pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED, true), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "sc query sense: NOT_INSTALLED"},
		{prerequisiteResult(".NET 4.5", true), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, ".NET 4.5 present"},
		{prerequisiteResult(".NET 4.5", false), pb.StepOutcome_STEP_OUTCOME_BLOCKED, pb.ErrorClass_ERROR_CLASS_PREREQUISITE, "missing prerequisite: .NET 4.5"},
		{fileCheckResult(`C:\x`, true), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, `C:\x exists`},
		{fileCheckResult(`C:\x`, false), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, `C:\x does not exist`},
	}
	for _, c := range cases {
		if c.r.Outcome != c.outcome || c.r.ErrorClass != c.class || c.r.Message != c.message {
			t.Errorf("got %s %s %q, want %s %s %q", c.r.Outcome, c.r.ErrorClass, c.r.Message, c.outcome, c.class, c.message)
		}
	}
}

func TestWusaMessage(t *testing.T) {
	cases := map[int32]string{
		0:           "KB1 installed",
		3010:        "KB1 installed; a restart is required",
		0x00240006:  "KB1 is already installed",
		-2145124329: "KB1 (x.msu) does not apply to this system", // 0x80240017
		-2147023293: "KB1: fatal error during installation (0x80070643)",
		-2147023838: "KB1: the Windows Update service (wuauserv) is disabled, and wusa needs it (0x80070422)",
		5:           "KB1: wusa.exe failed with 0x00000005",
	}
	for code, want := range cases {
		if got := wusaMessage("KB1", "x.msu", code); got != want {
			t.Errorf("%d: got %q, want %q", code, got, want)
		}
	}
}

func TestInstallerMessage(t *testing.T) {
	cases := map[int32]string{
		0:    "setup.exe succeeded",
		3010: "setup.exe succeeded; a restart is required",
		1603: "setup.exe failed with exit code 1603: fatal error during installation",
		42:   "setup.exe failed with exit code 42",
	}
	for code, want := range cases {
		if got := installerMessage("setup.exe", code); got != want {
			t.Errorf("%d: got %q, want %q", code, got, want)
		}
	}
}

func TestShownArg(t *testing.T) {
	if shownArg("OPINSIGHTS_WORKSPACE_KEY=${secret:workspace_key}", "OPINSIGHTS_WORKSPACE_KEY=c2Vj") != "OPINSIGHTS_WORKSPACE_KEY=${secret:workspace_key}" ||
		shownArg("OPINSIGHTS_WORKSPACE_ID=${workspace_id}", "OPINSIGHTS_WORKSPACE_ID=ws-1") != "OPINSIGHTS_WORKSPACE_ID=ws-1" {
		t.Error("shownArg must show a secret's reference and a parameter's value")
	}
}

func TestTimeoutResult(t *testing.T) {
	r := timeoutResult("wusa.exe x.msu", 30*time.Minute, "out")
	if r.ErrorClass != pb.ErrorClass_ERROR_CLASS_TIMEOUT || !strings.Contains(r.Message, "within 30m0s") || r.Output != "out" {
		t.Errorf("got %+v", r)
	}
}
