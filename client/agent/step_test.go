package agent_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"purser/client/agent"
	"purser/client/sim"
	pb "purserpb/v1"
)

func openSim(t *testing.T, profile string) *sim.Machine {
	t.Helper()
	m, err := sim.Open(filepath.Join(t.TempDir(), "m"), profile, "h", nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWindowsExitCodeDefaults(t *testing.T) {
	none := &pb.ExitCodes{}
	notApplicable := int32(-2145124329) // 0x80240017
	for code, want := range map[int32]pb.StepOutcome{
		0:             pb.StepOutcome_STEP_OUTCOME_SUCCEEDED,
		3010:          pb.StepOutcome_STEP_OUTCOME_REBOOT_REQUIRED,
		1641:          pb.StepOutcome_STEP_OUTCOME_REBOOT_REQUIRED,
		2359302:       pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE,
		notApplicable: pb.StepOutcome_STEP_OUTCOME_SKIPPED,
		1603:          pb.StepOutcome_STEP_OUTCOME_FAILED,
	} {
		if got := agent.ClassifyExitCode(none, code); got != want {
			t.Errorf("exit code %d: %v, want %v", code, got, want)
		}
	}
	custom := &pb.ExitCodes{Success: []int32{5}}
	if got := agent.ClassifyExitCode(custom, 5); got != pb.StepOutcome_STEP_OUTCOME_SUCCEEDED {
		t.Errorf("custom success: %v", got)
	}
	if got := agent.ClassifyExitCode(custom, 0); got != pb.StepOutcome_STEP_OUTCOME_FAILED {
		t.Errorf("0 outside a custom table: %v", got)
	}
}

func TestSkipIfAndSecretRedaction(t *testing.T) {
	m := openSim(t, "win81-x64-ent")
	step := &pb.Step{
		Id:     "mma",
		SkipIf: &pb.Check{Check: &pb.Check_FileExists{FileExists: sim.MonitoringHost}},
		Action: &pb.Step_InstallPackage{InstallPackage: &pb.InstallPackage{
			Package: "MMASetup-AMD64.exe", Setup: "setup.exe",
			Args: []string{"OPINSIGHTS_WORKSPACE_ID=${workspace_id}", "OPINSIGHTS_WORKSPACE_KEY=${secret:workspace_key}"},
		}},
	}
	params := map[string]string{"workspace_id": "ws-1", "secret:workspace_key": "super-secret-key-value"}
	first := agent.ExecuteStep(m, step, params, false)
	if first.Outcome != pb.StepOutcome_STEP_OUTCOME_SUCCEEDED {
		t.Fatalf("first run: %v %s", first.Outcome, first.Message)
	}
	if strings.Contains(first.Output, "super-secret-key-value") || !strings.Contains(first.Output, "OPINSIGHTS_WORKSPACE_KEY=[REDACTED]") {
		t.Errorf("output not redacted: %q", first.Output)
	}
	if !strings.Contains(first.Output, "ws-1") {
		t.Errorf("output lost the workspace id: %q", first.Output)
	}
	second := agent.ExecuteStep(m, step, params, false)
	if second.Outcome != pb.StepOutcome_STEP_OUTCOME_SKIPPED || second.Message != "skipped: "+sim.MonitoringHost+" exists" {
		t.Errorf("second run: %v %q", second.Outcome, second.Message)
	}
}

// A skipped step says which check held, down to the alternative of an any_of.
func TestASkippedStepSaysWhichCheckHeld(t *testing.T) {
	m := openSim(t, "win7-sp1-x86-pro")
	step := &pb.Step{
		Id: "tls",
		SkipIf: &pb.Check{Check: &pb.Check_AnyOf{AnyOf: &pb.AnyOf{Checks: []*pb.Check{
			{Check: &pb.Check_KbInstalled{KbInstalled: "KB3154518"}},
			{Check: &pb.Check_DotnetAtLeast{DotnetAtLeast: "4.5"}},
		}}}},
		Action: &pb.Step_CheckFile{CheckFile: &pb.CheckFile{Path: `C:\x`}},
	}
	r := agent.ExecuteStep(m, step, nil, false)
	if r.Outcome != pb.StepOutcome_STEP_OUTCOME_SKIPPED || r.Message != "skipped: .NET Framework 4.5 or later is installed" {
		t.Errorf("%v %q", r.Outcome, r.Message)
	}
}

// run_command runs only where the endpoint's own install allowed it.
func TestRunCommandNeedsTheEndpointsConsent(t *testing.T) {
	m := openSim(t, "win81-x64-ent")
	step := &pb.Step{Id: "cmd", Action: &pb.Step_RunCommand{RunCommand: &pb.RunCommand{Argv: []string{"cmd.exe"}}}}
	refused := agent.ExecuteStep(m, step, nil, false)
	if refused.Outcome != pb.StepOutcome_STEP_OUTCOME_FAILED || refused.ErrorClass != pb.ErrorClass_ERROR_CLASS_UNSUPPORTED_ACTION ||
		!strings.Contains(refused.Message, "--allow_run_command") {
		t.Errorf("refused: %v %v %q", refused.Outcome, refused.ErrorClass, refused.Message)
	}
	allowed := agent.ExecuteStep(m, step, nil, true)
	if strings.Contains(allowed.Message, "--allow_run_command") {
		t.Errorf("allowed: %q", allowed.Message)
	}
}

// Reports carry valid UTF-8 even when a tool printed an OEM code page or the
// output was cut mid-character.
type latin1Executor struct{ agent.Executor }

func (latin1Executor) Run(*pb.Step, map[string]string, time.Duration) agent.ActionResult {
	return agent.ActionResult{ExitCode: 1, Message: "fichier \xe9chou\xe9", Output: strings.Repeat("é", 9000)}
}

func TestReportsAreValidUTF8(t *testing.T) {
	r := agent.ExecuteStep(latin1Executor{}, &pb.Step{Id: "x"}, nil, false)
	if !utf8.ValidString(r.Message) || !utf8.ValidString(r.Output) {
		t.Errorf("invalid UTF-8: %q / %d bytes", r.Message, len(r.Output))
	}
	if len(r.Output) > 16*1024+64 || !strings.HasPrefix(r.Output, "[") ||
		!strings.Contains(r.Output, "earlier bytes of output dropped]") {
		t.Errorf("output not capped with a marker: %d bytes, %.60q", len(r.Output), r.Output)
	}
	if r.ErrorClass != pb.ErrorClass_ERROR_CLASS_EXIT_CODE {
		t.Errorf("error class %v", r.ErrorClass)
	}
}

func TestExpandRefs(t *testing.T) {
	got, err := agent.ExpandRefs("id=${a}, key=${secret:k}.", map[string]string{"a": "1", "secret:k": "s"})
	if err != nil || got != "id=1, key=s." {
		t.Errorf("%q %v", got, err)
	}
	if _, err := agent.ExpandRefs("${missing}", nil); err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("missing parameter: %v", err)
	}
	if _, err := agent.ExpandRefs("${open", nil); err == nil {
		t.Error("unterminated reference accepted")
	}
}
