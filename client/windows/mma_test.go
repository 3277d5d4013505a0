package windows

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf16"

	pb "purserpb/v1"
)

func decodeEncodedCommand(t *testing.T, s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%2 != 0 {
		t.Fatalf("not UTF-16LE base64: %v", err)
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}

func TestMMAScripts(t *testing.T) {
	calls := map[mmaOp][]string{
		mmaAddWorkspace:    {"AddCloudWorkspaceWithAzureCloudType($id, $key, $cloud)", "AddCloudWorkspace($id, $key)", "ReloadConfiguration()", "$env:PURSER_WORKSPACE_KEY"},
		mmaRemoveWorkspace: {"RemoveCloudWorkspace($id)", "ReloadConfiguration()"},
		mmaCheckWorkspace:  {"GetCloudWorkspace($id)", "ConnectionStatusText", "GetCloudWorkspaces()"},
		mmaSetProxy:        {"SetProxyInfo([string]$env:PURSER_PROXY, '', '')"},
	}
	for op, want := range calls {
		s := mmaScript(op)
		if !strings.HasPrefix(s, "# purser: "+string(op)+"\n") {
			t.Errorf("%s: script does not start by naming its operation", op)
		}
		for _, w := range append(want, "AgentConfigManager.MgmtSvcCfg", "$env:PURSER_WORKSPACE_ID") {
			if !strings.Contains(s, w) {
				t.Errorf("%s: script lacks %s", op, w)
			}
		}
		args := powerShellArgs(s)
		if got := decodeEncodedCommand(t, args[len(args)-1]); got != s {
			t.Errorf("%s: -EncodedCommand decodes to another script", op)
		}
		if !strings.Contains(strings.Join(args, " "), "-InputFormat None") {
			t.Errorf("%s: PowerShell 2.0 would wait on its standard input", op)
		}
	}
}

func TestParseMMAReply(t *testing.T) {
	out := "noise\nPURSER-RESULT: NOT-FOUND 2\n"
	if r, ok := parseMMAReply(out); !ok || r.Word != "NOT-FOUND" || r.Detail != "2" {
		t.Errorf("got %+v %v", r, ok)
	}
	if r, ok := parseMMAReply("PURSER-RESULT: ERROR first\nPURSER-RESULT: ADDED\n"); !ok || r.Word != "ADDED" {
		t.Errorf("the last reply counts: %+v", r)
	}
	if _, ok := parseMMAReply("PowerShell crashed\n"); ok {
		t.Error("a reply found where there is none")
	}
}

func TestMMAResults(t *testing.T) {
	const id = "ws-1"
	cases := []struct {
		name    string
		got     func() (pb.StepOutcome, pb.ErrorClass, string)
		outcome pb.StepOutcome
		class   pb.ErrorClass
		message string
	}{
		{"add, no MMA", wrap(addWorkspaceResult(id, mmaReply{Word: "NO-MMA"}, 0)), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, "MMA is not installed"},
		{"add, present", wrap(addWorkspaceResult(id, mmaReply{Word: "ALREADY"}, 0)), pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, 0, "workspace ws-1 already configured"},
		{"add", wrap(addWorkspaceResult(id, mmaReply{Word: "ADDED"}, 0)), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "AddCloudWorkspace(ws-1); ReloadConfiguration()"},
		{"add, COM error", wrap(addWorkspaceResult(id, mmaReply{Word: "ERROR", Detail: "Access is denied"}, 1)), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_EXIT_CODE, "AddCloudWorkspace(ws-1) failed: Access is denied"},
		{"remove, no MMA", wrap(removeWorkspaceResult(id, mmaReply{Word: "NO-MMA"}, 0)), pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, 0, "MMA is not installed"},
		{"remove, absent", wrap(removeWorkspaceResult(id, mmaReply{Word: "NOT-FOUND"}, 0)), pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, 0, "workspace ws-1 not configured"},
		{"remove", wrap(removeWorkspaceResult(id, mmaReply{Word: "REMOVED"}, 0)), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "RemoveCloudWorkspace(ws-1); ReloadConfiguration()"},
		{"check", wrap(checkWorkspaceResult(id, mmaReply{Word: "FOUND", Detail: "Connected"}, 0)), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "workspace ws-1 configured (Connected)"},
		{"check, others", wrap(checkWorkspaceResult(id, mmaReply{Word: "NOT-FOUND", Detail: "2"}, 0)), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, "workspace ws-1 is not configured in MMA (it reports to other workspaces)"},
		{"check, none", wrap(checkWorkspaceResult(id, mmaReply{Word: "NOT-FOUND", Detail: "0"}, 0)), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, "workspace ws-1 is not configured in MMA"},
		{"proxy", wrap(mmaProxyResult("p:3128", mmaReply{Word: "PROXY-SET"}, 0)), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "proxy p:3128"},
		{"proxy cleared", wrap(mmaProxyResult("", mmaReply{Word: "PROXY-SET"}, 0)), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "direct connection"},
		{"proxy, no MMA", wrap(mmaProxyResult("", mmaReply{Word: "NO-MMA"}, 0)), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, "MMA is not installed"},
		{"odd reply", wrap(removeWorkspaceResult(id, mmaReply{Word: "WHAT"}, 0)), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_AGENT, `RemoveCloudWorkspace(ws-1): unexpected reply "WHAT" from the configuration script`},
	}
	for _, c := range cases {
		o, cls, msg := c.got()
		if o != c.outcome || cls != c.class || msg != c.message {
			t.Errorf("%s: got %s %s %q, want %s %s %q", c.name, o, cls, msg, c.outcome, c.class, c.message)
		}
	}
}
