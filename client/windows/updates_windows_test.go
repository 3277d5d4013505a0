package windows

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	pb "purserpb/v1"
)

// fakeServicingStore writes CBS packages (and rollup manifests) as
// Windows would, and removes them when the test ends.
func fakeServicingStore(t *testing.T, e *Executor, packages map[string]cbsState, manifests map[string]string) {
	t.Helper()
	requireWine(t)
	for name, state := range packages {
		k, err := createKey(hkeyLocalMachine, cbsPackagesKey+`\`+name, syscall.KEY_SET_VALUE)
		if err != nil {
			t.Fatal(err)
		}
		b := []byte{byte(state), byte(state >> 8), 0, 0}
		if err := k.setValue("CurrentState", regDWORD, b); err != nil {
			t.Fatal(err)
		}
		k.Close()
		name := name
		t.Cleanup(func() { deleteKey(hkeyLocalMachine, cbsPackagesKey+`\`+name) })
	}
	for name, kb := range manifests {
		path := filepath.Join(e.facts.windir, "servicing", "Packages", name+".mum")
		writeFile(t, path, strings.Replace(rollupManifest, "KB4074598", kb, 1))
		t.Cleanup(func() { os.Remove(path) })
	}
}

func TestInstalledUpdatesFromTheServicingStore(t *testing.T) {
	e := newTestExecutor(t)
	const tail = "~31bf3856ad364e35~amd64~~6.1.1.1"
	fakeServicingStore(t, e, map[string]cbsState{
		"Package_for_KB3080149" + tail:                                                cbsInstalled,
		"Package_2_for_KB3080149" + tail:                                              cbsStaged,
		"Package_for_KB4490628" + tail:                                                cbsInstallPending,
		"Package_for_KB3154518_RTM" + tail:                                            cbsStaged,
		"Package_for_RollupFix~31bf3856ad364e35~amd64~~7601.24002.1.4":                cbsInstalled,
		"Package_for_RollupFix~31bf3856ad364e35~amd64~~7601.23714.1.7":                cbsSuperseded,
		"Microsoft-Windows-Foundation-Package~31bf3856ad364e35~amd64~~6.1.7601.17514": cbsInstalled,
	}, map[string]string{
		"Package_for_RollupFix~31bf3856ad364e35~amd64~~7601.24002.1.4": "KB4074598",
		"Package_for_RollupFix~31bf3856ad364e35~amd64~~7601.23714.1.7": "KB4012215",
	})
	kbs, err := e.installedUpdates()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kbs.Installed(), []string{"KB3080149", "KB4012215", "KB4074598"}; !reflect.DeepEqual(got, want) {
		t.Errorf("installed %v, want %v", got, want)
	}
	inv := e.Inventory()
	if !reflect.DeepEqual(inv.GetInstalledKbs(), kbs.Installed()) || !inv.GetPendingReboot() {
		t.Errorf("inventory: KBs %v, pending reboot %v (KB4490628 waits for one)", inv.GetInstalledKbs(), inv.GetPendingReboot())
	}
	for kb, held := range map[string]bool{"KB4074598": true, "kb3080149": true, "KB4490628": false, "KB3154518": false} {
		got, err := e.Evaluate(&pb.Check{Check: &pb.Check_KbInstalled{KbInstalled: kb}})
		if err != nil || got != held {
			t.Errorf("kb_installed %s: %v %v, want %v", kb, got, err, held)
		}
	}
	// The plan's TLS prerequisite: .NET 4.5+ or KB3154518.
	prereq := &pb.Step{Id: "p", Action: &pb.Step_RequirePrerequisite{RequirePrerequisite: &pb.RequirePrerequisite{
		Name: ".NET Framework 4.5 or later, or KB3154518",
		Check: &pb.Check{Check: &pb.Check_AnyOf{AnyOf: &pb.AnyOf{Checks: []*pb.Check{
			{Check: &pb.Check_DotnetAtLeast{DotnetAtLeast: "4.5"}},
			{Check: &pb.Check_KbInstalled{KbInstalled: "KB3154518"}},
		}}}}}}}
	setDotnetRelease(t, 0)
	want(t, "no .NET 4.5, no KB", e.Run(prereq, nil, time.Minute), pb.StepOutcome_STEP_OUTCOME_BLOCKED,
		pb.ErrorClass_ERROR_CLASS_PREREQUISITE, "missing prerequisite: .NET Framework 4.5 or later, or KB3154518")
	setDotnetRelease(t, 461808)
	if v := e.dotnetVersion(); v != "4.7.2" {
		t.Errorf(".NET version %q, want 4.7.2", v)
	}
	want(t, ".NET 4.7.2", e.Run(prereq, nil, time.Minute), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "present")
}

// setDotnetRelease sets NDP\v4\Full Release (0 removes .NET 4), restoring
// what was there when the test ends.
func setDotnetRelease(t *testing.T, release uint32) {
	t.Helper()
	requireWine(t)
	k, err := createKey(hkeyLocalMachine, dotnet4FullKey, syscall.KEY_SET_VALUE|syscall.KEY_QUERY_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	for _, name := range []string{"Release", "Install"} {
		name := name
		if typ, old, err := k.value(name); err == nil {
			t.Cleanup(func() {
				if k, err := createKey(hkeyLocalMachine, dotnet4FullKey, syscall.KEY_SET_VALUE); err == nil {
					k.setValue(name, typ, old)
					k.Close()
				}
			})
		} else {
			t.Cleanup(func() {
				if k, err := createKey(hkeyLocalMachine, dotnet4FullKey, syscall.KEY_SET_VALUE); err == nil {
					k.deleteValue(name)
					k.Close()
				}
			})
		}
		k.deleteValue(name)
	}
	if release != 0 {
		k.setValue("Release", regDWORD, []byte{byte(release), byte(release >> 8), byte(release >> 16), 0})
		k.setValue("Install", regDWORD, []byte{1, 0, 0, 0})
	}
}

func installUpdateStep(pkg string) *pb.Step {
	return &pb.Step{Id: "kb", Artifacts: []string{pkg},
		Action: &pb.Step_InstallUpdate{InstallUpdate: &pb.InstallUpdate{Kb: "KB4074598", Package: pkg}}}
}

func TestInstallUpdateRunsWusa(t *testing.T) {
	e := newTestExecutor(t)
	const pkg = "Windows6.1-KB4074598-x64.msu"
	msu := filepath.Join(t.TempDir(), "staged files", pkg)
	params := map[string]string{"artifact:" + pkg: msu}
	for _, c := range []struct {
		answer string
		code   int32
		msg    string
	}{
		{"exit=0", 0, "KB4074598 installed"},
		{"exit=3010", 3010, "KB4074598 installed; a restart is required"},
		{"exit=0x00240006", 0x00240006, "KB4074598 is already installed"},
		{"exit=0x80240017", -2145124329, "KB4074598 (Windows6.1-KB4074598-x64.msu) does not apply to this system"},
		{"exit=0x80070643", -2147023293, "KB4074598: fatal error during installation (0x80070643)"},
	} {
		writeFile(t, msu, c.answer)
		mark := logMark()
		r := e.Run(installUpdateStep(pkg), params, time.Minute)
		if r.Outcome != pb.StepOutcome_STEP_OUTCOME_UNSPECIFIED || r.ExitCode != c.code || r.Message != c.msg ||
			!strings.HasPrefix(r.Output, "wusa.exe "+pkg+" /quiet /norestart\n") {
			t.Errorf("%s: got %+v, want exit code %d and %q", c.answer, r, c.code, c.msg)
		}
		// The package runs under its own name (wusa takes only an .msu),
		// staged in the work directory, which the step leaves empty.
		calls := standinCalls(t, mark)
		if len(calls) != 1 || calls[0].Tool != "wusa.exe" || len(calls[0].Argv) != 4 ||
			!reflect.DeepEqual(calls[0].Argv[2:], []string{"/quiet", "/norestart"}) ||
			filepath.Base(calls[0].Argv[1]) != pkg || !strings.HasPrefix(calls[0].Argv[1], e.opts.WorkDir+`\msu-`) {
			t.Errorf("%s: wusa was called as %+v", c.answer, calls)
		}
		if left, _ := os.ReadDir(e.opts.WorkDir); len(left) != 0 {
			t.Errorf("%s: the staged package stayed in %s", c.answer, e.opts.WorkDir)
		}
	}
	want(t, "not staged", e.Run(installUpdateStep(pkg), nil, time.Minute),
		pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_ARTIFACT, "package "+pkg+" is not staged")
}
