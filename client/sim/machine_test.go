package sim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "purserpb/v1"
)

func update(kb, pkg string) *pb.Step {
	return &pb.Step{Id: kb, Action: &pb.Step_InstallUpdate{InstallUpdate: &pb.InstallUpdate{Kb: kb, Package: pkg}}}
}

func mma(pkg string) *pb.Step {
	return &pb.Step{Action: &pb.Step_InstallPackage{InstallPackage: &pb.InstallPackage{
		Package: pkg, Args: []string{"OPINSIGHTS_WORKSPACE_ID=ws"}}}}
}

// open opens profile's machine in dir, named after the profile.
func open(t *testing.T, dir, profile string, faults *pb.SimFaults) *Machine {
	t.Helper()
	m, err := Open(filepath.Join(dir, profile), profile, profile, faults)
	if err != nil {
		t.Fatalf("Open(%s): %v", profile, err)
	}
	return m
}

func TestUpdatesReturnWindowsExitCodes(t *testing.T) {
	sim := open(t, t.TempDir(), "win7-sp1-x64-ent", nil)
	const timeout = 5 * time.Second
	for _, c := range []struct {
		kb, pkg string
		want    int32
	}{
		// The guide's DeployMMA.cmd bug: the 8.1 package on a 6.1 system.
		{"KB3080149", "Windows8.1-KB3080149-x64.msu", ExitNotApplicable},
		{"KB3080149", "Windows6.1-KB3080149-x86.msu", ExitNotApplicable},
		{"KB3080149", "Windows6.1-KB3080149-x64.msu", 0},
		{"KB3080149", "Windows6.1-KB3080149-x64.msu", ExitAlreadyInstalled},
		{"KB4474419", "Windows6.1-KB4474419-x64.msu", ExitRebootRequired},
	} {
		if got := sim.Run(update(c.kb, c.pkg), nil, timeout).ExitCode; got != c.want {
			t.Errorf("%s (%s): exit code %d, want %d", c.kb, c.pkg, got, c.want)
		}
	}
	if !sim.Inventory().GetPendingReboot() {
		t.Error("no pending reboot after KB4474419")
	}
}

func TestSha2SupportGatesTheMmaInstallUntilReboot(t *testing.T) {
	sim := open(t, t.TempDir(), "win2008r2-sp1-x64", nil)
	const timeout = 5 * time.Second
	r := sim.Run(mma("MMASetup-AMD64.exe"), nil, timeout)
	if r.ExitCode != ExitUntrustedSignature {
		t.Errorf("exit code %d, want %d", r.ExitCode, ExitUntrustedSignature)
	}
	if r.ErrorClass != pb.ErrorClass_ERROR_CLASS_PREREQUISITE {
		t.Errorf("error class %v, want PREREQUISITE", r.ErrorClass)
	}
	if !strings.Contains(r.Message, "KB4474419") {
		t.Errorf("message %q does not name KB4474419", r.Message)
	}
	sim.Run(update("KB4474419", "Windows6.1-KB4474419-x64.msu"), nil, timeout)
	if got := sim.Run(mma("MMASetup-AMD64.exe"), nil, timeout).ExitCode; got != ExitUntrustedSignature {
		t.Errorf("exit code %d, want %d: a pending update has not taken before the reboot", got, ExitUntrustedSignature)
	}
	if err := sim.Reboot(); err != nil {
		t.Fatalf("Reboot: %v", err)
	}
	if got := sim.Run(mma("MMASetup-AMD64.exe"), nil, timeout).ExitCode; got != 0 {
		t.Errorf("exit code %d after the reboot, want 0", got)
	}
	if got := sim.Snapshot().GetBootCount(); got != 1 {
		t.Errorf("boot count %d, want 1", got)
	}
	if got := sim.Run(mma("MMASetup-i386.exe"), nil, timeout).ExitCode; got != ExitMsiFatal {
		t.Errorf("x86 package on x64: exit code %d, want %d", got, ExitMsiFatal)
	}
}

func TestSenseRunsOnlyWithMmaWorkspaceTelemetryAndTls(t *testing.T) {
	sim := open(t, t.TempDir(), "win81-x64-ent", nil)
	const timeout = 5 * time.Second
	senseRunning := &pb.Check{Check: &pb.Check_Service{Service: &pb.ServiceState{
		Name: "sense", Status: pb.ServiceStatus_SERVICE_STATUS_RUNNING}}}
	running := func() bool {
		t.Helper()
		ok, err := sim.Evaluate(senseRunning)
		if err != nil {
			t.Fatalf("Evaluate: %v", err)
		}
		return ok
	}
	sim.Run(mma("MMASetup-AMD64.exe"), nil, timeout)
	if running() {
		t.Error("sense runs though KB3080149 is missing")
	}
	sim.Run(update("KB3080149", "Windows8.1-KB3080149-x64.msu"), nil, timeout)
	if !running() {
		t.Error("sense does not run with MMA, the workspace and KB3080149")
	}
	remove := &pb.Step{Action: &pb.Step_RemoveWorkspace{RemoveWorkspace: &pb.RemoveWorkspace{WorkspaceId: "ws"}}}
	if got := sim.Run(remove, nil, timeout).Outcome; got != pb.StepOutcome_STEP_OUTCOME_SUCCEEDED {
		t.Errorf("remove workspace: %v, want SUCCEEDED", got)
	}
	if running() {
		t.Error("sense runs without a workspace")
	}
}

func TestInjectedFaults(t *testing.T) {
	faults := &pb.SimFaults{FailingKbs: []string{"KB3080149"}, HungKbs: []string{"KB4490628"}, TlsInterception: true}
	sim := open(t, t.TempDir(), "win7-sp1-x64-ent", faults)
	if got := sim.Run(update("KB3080149", "Windows6.1-KB3080149-x64.msu"), nil, 5*time.Second).ExitCode; got != ExitFatal {
		t.Errorf("failing KB: exit code %d, want %d", got, ExitFatal)
	}
	hung := sim.Run(update("KB4490628", "Windows6.1-KB4490628-x64.msu"), nil, 200*time.Millisecond)
	if hung.ErrorClass != pb.ErrorClass_ERROR_CLASS_TIMEOUT {
		t.Errorf("hung KB: error class %v, want TIMEOUT", hung.ErrorClass)
	}
	conn := &pb.Step{Action: &pb.Step_CheckConnectivity{CheckConnectivity: &pb.CheckConnectivity{Urls: []string{"${urls}"}}}}
	net := sim.Run(conn, map[string]string{"urls": "https://a.example, https://b.example"}, 5*time.Second)
	if net.ErrorClass != pb.ErrorClass_ERROR_CLASS_TLS_INTERCEPTION {
		t.Errorf("connectivity: error class %v, want TLS_INTERCEPTION", net.ErrorClass)
	}
	if !strings.Contains(net.Message, "TLS interception") {
		t.Errorf("connectivity: message %q does not say TLS interception", net.Message)
	}
}

func TestStateSurvivesReopenAndLostRebootsStayDown(t *testing.T) {
	dir := t.TempDir()
	sim := open(t, dir, "win81-x64-ent", &pb.SimFaults{LoseReboot: true})
	sim.Run(update("KB3080149", "Windows8.1-KB3080149-x64.msu"), nil, 5*time.Second)
	if err := sim.Reboot(); !errors.Is(err, ErrRebootLost) {
		t.Errorf("Reboot: %v, want ErrRebootLost", err)
	}
	again, err := Open(filepath.Join(dir, "win81-x64-ent"), "", "", nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	m := again.Snapshot()
	if !m.GetDown() {
		t.Error("the machine is up after a lost reboot")
	}
	if len(m.GetInstallLog()) != 1 {
		t.Fatalf("install log %v, want one entry", m.GetInstallLog())
	}
	if got := m.GetInstallLog()[0].GetWhat(); got != "KB3080149" {
		t.Errorf("install log names %q, want KB3080149", got)
	}
	if _, err := Open(filepath.Join(dir, "nothing"), "", "", nil); err == nil {
		t.Error("Open without a state file or a profile succeeded")
	}
	if _, err := Open(filepath.Join(dir, "bad"), "win95", "", nil); err == nil {
		t.Error("Open with an unknown profile succeeded")
	}
}

// Every field the simulator writes comes back from its file as it was.
func TestSavedMachineReopensEqual(t *testing.T) {
	dir := t.TempDir()
	faults := &pb.SimFaults{NotApplicableKbs: []string{"KB1"}, TlsInterception: true}
	sim := open(t, dir, "win7-sp1-x64-ent-onboarded", faults)
	const timeout = 5 * time.Second
	if err := sim.Reboot(); err != nil {
		t.Fatal(err)
	}
	steps := []*pb.Step{
		update("KB3154518", "Windows6.1-KB3154518-x64.msu"),
		{Action: &pb.Step_SetProxy{SetProxy: &pb.SetProxy{Target: pb.SetProxy_TARGET_MMA, Proxy: "${proxy}"}}},
		{Action: &pb.Step_SetProxy{SetProxy: &pb.SetProxy{Target: pb.SetProxy_TARGET_WINHTTP, Proxy: "p:8080"}}},
		{Action: &pb.Step_AddWorkspace{AddWorkspace: &pb.AddWorkspace{WorkspaceId: "ws2", WorkspaceKey: "${key}"}}},
		{Action: &pb.Step_SetRegistryValue{SetRegistryValue: &pb.SetRegistryValue{
			Key: `HKLM\SOFTWARE\Policies\Microsoft\Windows Advanced Threat Protection`, Name: "Group", Value: "é \"q\"\n"}}},
	}
	params := map[string]string{"proxy": "proxy.example:3128", "key": "secret"}
	for _, s := range steps {
		if r := sim.Run(s, params, timeout); r.Outcome == pb.StepOutcome_STEP_OUTCOME_FAILED {
			t.Fatalf("step %v failed: %s", s, r.Message)
		}
	}
	if _, err := sim.Evaluate(&pb.Check{Check: &pb.Check_Service{Service: &pb.ServiceState{Name: "WinRM"}}}); err != nil {
		t.Fatal(err)
	}
	sim.Run(update("KB4474419", "Windows6.1-KB4474419-x64.msu"), nil, timeout) // already installed
	want := sim.Snapshot()
	if len(want.GetPendingKbs()) != 1 || want.GetBootCount() != 1 || len(want.GetRegistry()) != 1 {
		t.Fatalf("the steps did not take: %v", want)
	}
	again, err := Open(filepath.Join(dir, "win7-sp1-x64-ent-onboarded"), "", "", nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if got := again.Snapshot(); !proto.Equal(got, want) {
		t.Errorf("reopened machine differs:\n got %v\nwant %v", got, want)
	}
	// The file is the state (the unsaved WinRM lookup aside, saved by the next step).
	text, err := os.ReadFile(filepath.Join(dir, "win7-sp1-x64-ent-onboarded"))
	if err != nil {
		t.Fatal(err)
	}
	onDisk := &pb.SimMachine{}
	if err := prototext.Unmarshal(text, onDisk); err != nil {
		t.Fatalf("state file does not parse: %v", err)
	}
	if !proto.Equal(onDisk, want) {
		t.Errorf("state file differs:\n got %v\nwant %v", onDisk, want)
	}
}

func TestOpenAppliesMmaRemovedAndRejectsCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, "win7-sp1-x64-ent-onboarded", nil)
	sim := open(t, dir, "win7-sp1-x64-ent-onboarded", &pb.SimFaults{MmaRemoved: true})
	m := sim.Snapshot()
	if m.GetMmaInstalled() || len(m.GetWorkspaces()) != 0 || len(m.GetFiles()) != 0 {
		t.Errorf("MMA still there after mma_removed: %v", m)
	}
	for _, s := range m.GetInventory().GetServices() {
		if s.GetName() == "healthservice" && s.GetStatus() != pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED {
			t.Errorf("healthservice %v without MMA", s.GetStatus())
		}
	}
	bad := filepath.Join(dir, "corrupt")
	if err := os.WriteFile(bad, []byte("profile: {"), 0600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(bad, "win7-sp1-x64-ent", "h", nil)
	if want := "simulated machine " + bad + " is corrupt"; err == nil || err.Error() != want {
		t.Errorf("Open(corrupt): %v, want %q", err, want)
	}
	_, err = Open(filepath.Join(dir, "nothing"), "", "", nil)
	if want := "no simulated machine at " + filepath.Join(dir, "nothing") + ": name a profile to create one"; err == nil || err.Error() != want {
		t.Errorf("Open(nothing): %v, want %q", err, want)
	}
	_, err = MakeProfile("win95", "h")
	if want := `unknown simulated profile "win95" (known: ` + strings.Join(ProfileNames(), ", ") + ")"; err == nil || err.Error() != want {
		t.Errorf("MakeProfile(win95): %v, want %q", err, want)
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, c := range []struct {
		have, want string
		ok         bool
	}{
		{"4.5.2", "4.5", true},
		{"4.5", "4.5", true},
		{"4.5", "4.5.1", false},
		{"4.10", "4.9", true},
		{"3.5", "4.5", false},
		{"", "4.5", false},
		{"", "", false},
		{"4.8", "", false}, // "" is not a number
		{" 4 .+5", "4.5", true},
		{"4.x", "4.5", false},
		{"4.2147483648", "4", false}, // overflows int32: not a version
	} {
		if got := VersionAtLeast(c.have, c.want); got != c.ok {
			t.Errorf("VersionAtLeast(%q, %q) = %v, want %v", c.have, c.want, got, c.ok)
		}
	}
}
