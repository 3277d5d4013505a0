package windows

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"purser/client/agent"
	pb "purserpb/v1"
)

const testKey = "dGVzdC13b3Jrc3BhY2Uta2V5LXdpdGgtK2FuZC8tPT0=+/=="

func mmaParams(extra map[string]string) map[string]string {
	p := map[string]string{"workspace_id": "ws-1", "secret:workspace_key": testKey, "azure_cloud_type": "0"}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// installMMAStep is the default plan's install-mma-x64 step.
func installMMAStep() *pb.Step {
	return &pb.Step{Id: "install-mma-x64", Artifacts: []string{"MMASetup-AMD64.exe"},
		Action: &pb.Step_InstallPackage{InstallPackage: &pb.InstallPackage{
			Package: "MMASetup-AMD64.exe", Setup: "setup.exe", Product: "Microsoft Monitoring Agent",
			Args: []string{"/qn", "NOAPM=1", "ADD_OPINSIGHTS_WORKSPACE=1", "OPINSIGHTS_WORKSPACE_ID=${workspace_id}",
				"OPINSIGHTS_WORKSPACE_KEY=${secret:workspace_key}", "OPINSIGHTS_WORKSPACE_AZURE_CLOUD_TYPE=${azure_cloud_type}",
				"AcceptEndUserLicenseAgreement=1"}}}}
}

func noKey(t *testing.T, what string, r agent.ActionResult) {
	t.Helper()
	if strings.Contains(r.Message, testKey) || strings.Contains(r.Output, testKey) {
		t.Errorf("%s: the workspace key is in the result: %+v", what, r)
	}
}

func TestInstallPackageUnpacksAndRunsSetup(t *testing.T) {
	e := newTestExecutor(t)
	staged := filepath.Join(t.TempDir(), "MMASetup-AMD64.exe")
	self, _ := os.Executable()
	if err := copyFile(self, staged); err != nil {
		t.Fatal(err)
	}
	params := mmaParams(map[string]string{"artifact:MMASetup-AMD64.exe": staged})
	answers := filepath.Join(standinPath, "mmasetup.answer")

	writeFile(t, answers, "setup-exit=0")
	mark := logMark()
	r := e.Run(installMMAStep(), params, time.Minute)
	noKey(t, "install", r)
	if r.Outcome != pb.StepOutcome_STEP_OUTCOME_UNSPECIFIED || r.ExitCode != 0 ||
		r.Message != "setup.exe (Microsoft Monitoring Agent) succeeded" ||
		!strings.Contains(r.Output, "setup.exe /qn NOAPM=1 ADD_OPINSIGHTS_WORKSPACE=1 OPINSIGHTS_WORKSPACE_ID=ws-1 OPINSIGHTS_WORKSPACE_KEY=${secret:workspace_key}") {
		t.Errorf("install: %+v", r)
	}
	calls := standinCalls(t, mark)
	if len(calls) != 2 || calls[0].Tool != "mmasetup-amd64.exe" || calls[1].Tool != "setup.exe" {
		t.Fatalf("calls %+v, want the package unpacked then setup.exe", calls)
	}
	// It runs under its own name from a directory of its own, and unpacks
	// there (the directory's 8.3 name: the work directory has a space).
	if a := calls[0].Argv; len(a) != 3 || filepath.Base(a[0]) != "MMASetup-AMD64.exe" || a[1] != "/c" ||
		!strings.HasPrefix(a[2], "/t:") || !strings.HasSuffix(a[2], `\unpacked`) || !strings.HasPrefix(a[0], e.opts.WorkDir+`\pkg-`) {
		t.Errorf("unpacked with %q, want <work>\\pkg-*\\MMASetup-AMD64.exe /c /t:<its dir>\\unpacked", calls[0].CmdLine)
	}
	if !strings.Contains(calls[1].CmdLine, "OPINSIGHTS_WORKSPACE_KEY="+testKey+" ") ||
		!strings.Contains(calls[1].CmdLine, "OPINSIGHTS_WORKSPACE_ID=ws-1 ") {
		t.Errorf("setup's command line lacks the workspace: %s", calls[1].CmdLine)
	}
	if left, _ := os.ReadDir(e.opts.WorkDir); len(left) != 0 {
		t.Errorf("the unpacked files stayed in %s", e.opts.WorkDir)
	}

	writeFile(t, answers, "setup-exit=3010")
	if r := e.Run(installMMAStep(), params, time.Minute); r.ExitCode != 3010 || r.Outcome != pb.StepOutcome_STEP_OUTCOME_UNSPECIFIED {
		t.Errorf("3010: %+v", r)
	}
	writeFile(t, answers, "extract-exit=5")
	want(t, "unpack fails", e.Run(installMMAStep(), params, time.Minute),
		pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_EXIT_CODE, "unpacking MMASetup-AMD64.exe failed with exit code 5")

	// Windows 7 without SHA-2 support cannot install today's MMA.
	writeFile(t, answers, "setup-exit=1603")
	fakeServicingStore(t, e, map[string]cbsState{"Package_for_KB3080149~31bf3856ad364e35~amd64~~6.1.1.1": cbsInstalled}, nil)
	r = e.Run(installMMAStep(), params, time.Minute)
	want(t, "no SHA-2", r, pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_PREREQUISITE, "SHA-2 code signing support (KB4474419) is missing")
	if r.ExitCode != 1603 {
		t.Errorf("exit code %d, want setup's 1603", r.ExitCode)
	}
	fakeServicingStore(t, e, map[string]cbsState{"Package_for_KB4474419~31bf3856ad364e35~amd64~~6.1.2.2": cbsInstalled}, nil)
	r = e.Run(installMMAStep(), params, time.Minute)
	if r.Outcome != pb.StepOutcome_STEP_OUTCOME_UNSPECIFIED || r.ExitCode != 1603 ||
		r.Message != "setup.exe (Microsoft Monitoring Agent) failed with exit code 1603: fatal error during installation" {
		t.Errorf("with SHA-2 support: %+v", r)
	}
	noKey(t, "failure", r)
}

func setMMAState(t *testing.T, s mmaState) {
	t.Helper()
	b, _ := json.Marshal(s)
	writeFile(t, filepath.Join(standinPath, standinMMAState), string(b))
}

func TestMMAConfigurationThroughPowerShell(t *testing.T) {
	e := newTestExecutor(t)
	params := mmaParams(nil)
	add := &pb.Step{Id: "add", Action: &pb.Step_AddWorkspace{AddWorkspace: &pb.AddWorkspace{
		WorkspaceId: "${workspace_id}", WorkspaceKey: "${secret:workspace_key}", AzureCloudType: "${azure_cloud_type}"}}}
	remove := &pb.Step{Id: "remove", Action: &pb.Step_RemoveWorkspace{RemoveWorkspace: &pb.RemoveWorkspace{WorkspaceId: "${workspace_id}"}}}
	check := &pb.Step{Id: "check", Action: &pb.Step_CheckWorkspace{CheckWorkspace: &pb.CheckWorkspace{WorkspaceId: "${workspace_id}"}}}
	proxy := &pb.Step{Id: "proxy", Action: &pb.Step_SetProxy{SetProxy: &pb.SetProxy{Target: pb.SetProxy_TARGET_MMA, Proxy: "proxy.corp:3128"}}}
	run := func(s *pb.Step) agent.ActionResult {
		r := e.Run(s, params, time.Minute)
		noKey(t, s.GetId(), r)
		return r
	}
	mark := logMark()
	setMMAState(t, mmaState{})
	want(t, "add, no MMA", run(add), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, "MMA is not installed")
	want(t, "remove, no MMA", run(remove), pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, 0, "MMA is not installed")

	setMMAState(t, mmaState{Installed: true, Workspaces: map[string]string{"other-ws": "k"}})
	want(t, "check, other workspace", run(check), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED,
		"workspace ws-1 is not configured in MMA (it reports to other workspaces)")
	want(t, "add", run(add), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "AddCloudWorkspace(ws-1); ReloadConfiguration()")
	st, _ := readMMAState()
	if st.Workspaces["ws-1"] != testKey || st.Clouds["ws-1"] != "0" {
		t.Errorf("MMA got workspace key %q cloud %q, want the job's", st.Workspaces["ws-1"], st.Clouds["ws-1"])
	}
	want(t, "add again", run(add), pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, 0, "workspace ws-1 already configured")
	want(t, "check", run(check), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "workspace ws-1 configured (The Microsoft Monitoring Agent successfully connected)")
	want(t, "proxy", run(proxy), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "proxy proxy.corp:3128")
	if st, _ := readMMAState(); st.Proxy != "proxy.corp:3128" {
		t.Errorf("MMA proxy %q", st.Proxy)
	}
	want(t, "remove", run(remove), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "RemoveCloudWorkspace(ws-1); ReloadConfiguration()")
	want(t, "remove again", run(remove), pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, 0, "workspace ws-1 not configured")

	calls := standinCalls(t, mark)
	if len(calls) != 9 {
		t.Errorf("%d PowerShell runs, want 9", len(calls))
	}
	for _, c := range calls {
		if c.Tool != "powershell.exe" || !strings.Contains(c.CmdLine, " -EncodedCommand ") || strings.Contains(c.CmdLine, testKey) {
			t.Errorf("PowerShell run as %s", c.CmdLine)
		}
	}
}
