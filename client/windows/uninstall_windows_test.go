package windows

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	pb "purserpb/v1"
)

func fakeUninstallEntry(t *testing.T, view uint32, code, name string) {
	t.Helper()
	k, err := createKey(hkeyLocalMachine, uninstallKey+`\`+code, syscall.KEY_SET_VALUE|view)
	if err != nil {
		t.Fatal(err)
	}
	k.setValue("DisplayName", regSZ, utf16Bytes(name))
	k.setValue("UninstallString", regExpandSZ, utf16Bytes("MsiExec.exe /X"+code))
	k.Close()
	t.Cleanup(func() {
		p, _ := utf16Ptr(uninstallKey + `\` + code)
		procRegDeleteKeyExW.Call(hkeyLocalMachine, uintptr(unsafe.Pointer(p)), uintptr(view), 0)
	})
}

func TestUninstallPackageByDisplayName(t *testing.T) {
	requireWine(t)
	e := newTestExecutor(t)
	const code64, code32 = "{11111111-2222-3333-4444-555555555555}", "{66666666-7777-8888-9999-AAAAAAAAAAAA}"
	uninstall := &pb.Step{Id: "u", Action: &pb.Step_UninstallPackage{UninstallPackage: &pb.UninstallPackage{Product: "Purser Test Product"}}}
	want(t, "absent", e.Run(uninstall, nil, time.Minute), pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, 0, "not installed")

	fakeUninstallEntry(t, syscall.KEY_WOW64_64KEY, code64, "Purser Test Product")
	fakeUninstallEntry(t, syscall.KEY_WOW64_32KEY, code32, "purser test product")
	answer := filepath.Join(standinPath, "msiexec.answer")
	defer os.Remove(answer)

	mark := logMark()
	r := e.Run(uninstall, nil, time.Minute)
	if r.Outcome != pb.StepOutcome_STEP_OUTCOME_UNSPECIFIED || r.ExitCode != 0 || r.Message != "Purser Test Product removed" {
		t.Errorf("removal: %+v", r)
	}
	calls := standinCalls(t, mark)
	if len(calls) != 2 || calls[0].Argv[2] != code64 || calls[1].Argv[2] != code32 {
		t.Errorf("msiexec called as %+v, want /x with each view's product code", calls)
	}
	for _, c := range calls {
		if len(c.Argv) != 5 || c.Argv[1] != "/x" || c.Argv[3] != "/qn" || c.Argv[4] != "/norestart" {
			t.Errorf("msiexec called as %s", c.CmdLine)
		}
	}

	writeFile(t, answer, "exit=3010")
	if r := e.Run(uninstall, nil, time.Minute); r.ExitCode != 3010 || r.Message != "Purser Test Product removed; a restart is required" {
		t.Errorf("3010: %+v", r)
	}
	writeFile(t, answer, "exit=1603")
	if r := e.Run(uninstall, nil, time.Minute); r.ExitCode != 1603 ||
		r.Message != "msiexec /x "+code64+" (Purser Test Product) failed with exit code 1603: fatal error during installation" {
		t.Errorf("1603: %+v", r)
	}
	writeFile(t, answer, "exit=1605")
	want(t, "gone meanwhile", e.Run(uninstall, nil, time.Minute), pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, 0, "not installed")
}
