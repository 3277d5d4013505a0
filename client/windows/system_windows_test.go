package windows

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"purser/client/agent"
	pb "purserpb/v1"
)

func TestInventoryReadsTheRealVersion(t *testing.T) {
	requireWine(t)
	k, err := createKey(hkeyLocalMachine, currentVersionKey, syscall.KEY_SET_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	// Wine has no EditionID; Windows 7 Enterprise has this one.
	if err := k.setValue("EditionID", regSZ, utf16Bytes("Enterprise")); err != nil {
		t.Fatal(err)
	}
	k.Close()
	inv := newTestExecutor(t).Inventory()
	facts := inv.GetOs()
	if facts.GetVersion() != "6.1.7601" || facts.GetServicePack() != 1 || facts.GetProduct() != pb.OsProduct_OS_PRODUCT_WINDOWS_7 ||
		facts.GetProductType() != pb.ProductType_PRODUCT_TYPE_WORKSTATION || facts.GetArch() != pb.Arch_ARCH_X64 ||
		facts.GetEdition() != "Enterprise" {
		t.Errorf("OS facts %v, want Windows 7 SP1 (6.1.7601) Enterprise x64 workstation", facts)
	}
	if inv.GetHostname() == "" {
		t.Error("no hostname")
	}
	if len(inv.GetServices()) != 3 {
		t.Fatalf("services %v, want sense, windefend, healthservice", inv.GetServices())
	}
	for _, s := range inv.GetServices() {
		if s.GetStatus() != pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED {
			t.Errorf("service %s is %s under Wine, want NOT_INSTALLED", s.GetName(), s.GetStatus())
		}
	}
}

func TestServiceControlManager(t *testing.T) {
	e := newTestExecutor(t)
	if st, err := queryService("purser-no-such-service"); err != nil || st.Status != pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED {
		t.Errorf("a missing service: %v %v, want NOT_INSTALLED", st, err)
	}
	if st, err := queryService("RpcSs"); err != nil || st.Status == pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED {
		t.Errorf("RpcSs: %v %v, want it installed", st, err)
	} else {
		t.Logf("RpcSs: %s", st)
	}
	run := func(name string, expect pb.ServiceStatus, required bool) agent.ActionResult {
		return e.Run(&pb.Step{Id: "svc", Action: &pb.Step_CheckService{CheckService: &pb.CheckService{
			Name: name, Expect: expect, Required: required}}}, nil, time.Minute)
	}
	want(t, "sense required", run("sense", pb.ServiceStatus_SERVICE_STATUS_RUNNING, true),
		pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, "sc query sense: NOT_INSTALLED, expected RUNNING")
	want(t, "windefend recommended", run("windefend", pb.ServiceStatus_SERVICE_STATUS_RUNNING, false),
		pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "sc query windefend: NOT_INSTALLED (recommended, not required)")
	want(t, "sense gone", run("sense", pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED, true),
		pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "sc query sense: NOT_INSTALLED")
	held, err := e.Evaluate(&pb.Check{Check: &pb.Check_Service{Service: &pb.ServiceState{
		Name: "sense", Status: pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED}}})
	if err != nil || !held {
		t.Errorf("service check: %v %v", held, err)
	}
}

func TestSetRegistryValueIn64BitView(t *testing.T) {
	requireWine(t)
	e := newTestExecutor(t)
	const sub = `SOFTWARE\PurserTest\SpyNet`
	defer deleteKey(hkeyLocalMachine, `SOFTWARE\PurserTest`)
	defer deleteKey(hkeyLocalMachine, sub)
	set := func(typ, value string) agent.ActionResult {
		return e.Run(&pb.Step{Id: "reg", Action: &pb.Step_SetRegistryValue{SetRegistryValue: &pb.SetRegistryValue{
			Key: `HKLM\` + sub, Name: "SpyNetReporting", Type: typ, Value: value}}}, nil, time.Minute)
	}
	want(t, "dword", set("REG_DWORD", "2"), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, `HKLM\SOFTWARE\PurserTest\SpyNet\SpyNetReporting = 2`)
	k, err := openKey(hkeyLocalMachine, sub, syscall.KEY_QUERY_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := k.dword("SpyNetReporting"); err != nil || v != 2 {
		t.Errorf("read back %d %v, want 2", v, err)
	}
	k.Close()
	if k32, err := openKey(hkeyLocalMachine, sub, syscall.KEY_QUERY_VALUE|syscall.KEY_WOW64_32KEY); err == nil {
		k32.Close()
		t.Error("the value landed in the 32-bit view (WOW6432Node) too")
	}
	want(t, "again", set("REG_DWORD", "0x2"), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "(unchanged)")
	want(t, "string", set("REG_SZ", "Advanced"), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "= Advanced")
	k, _ = openKey(hkeyLocalMachine, sub, syscall.KEY_QUERY_VALUE)
	if v, err := k.str("SpyNetReporting"); err != nil || v != "Advanced" {
		t.Errorf("read back %q %v", v, err)
	}
	k.deleteValue("SpyNetReporting")
	k.Close()
	want(t, "bad type", set("REG_BINARY", "00"), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_AGENT, "REG_BINARY")
}

func TestCheckFile(t *testing.T) {
	e := newTestExecutor(t)
	present := filepath.Join(t.TempDir(), "MonitoringHost.exe")
	writeFile(t, present, "x")
	check := func(path string) agent.ActionResult {
		return e.Run(&pb.Step{Id: "f", Action: &pb.Step_CheckFile{CheckFile: &pb.CheckFile{Path: path}}}, nil, time.Minute)
	}
	want(t, "present", check(present), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, present+" exists")
	kernel32 := filepath.Join(e.facts.windir, "System32", "kernel32.dll")
	want(t, "System32", check(kernel32), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "exists")
	want(t, "absent", check(present+".gone"), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, "does not exist")
	held, err := e.Evaluate(&pb.Check{Check: &pb.Check_AnyOf{AnyOf: &pb.AnyOf{Checks: []*pb.Check{
		{Check: &pb.Check_FileExists{FileExists: present + ".gone"}},
		{Check: &pb.Check_FileExists{FileExists: present}},
	}}}})
	if err != nil || !held {
		t.Errorf("any_of file_exists: %v %v", held, err)
	}
	if _, err := os.Stat(present); err != nil {
		t.Fatal(err)
	}
}

func TestRebootIsOrdered(t *testing.T) {
	requireWine(t) // Wine takes the order and does nothing; Windows would restart
	e := newTestExecutor(t)
	// Ordered, not done: the agent waits for the shutdown to stop it.
	if err := e.Reboot(); err != agent.ErrRebootOrdered {
		t.Errorf("Reboot: %v, want agent.ErrRebootOrdered", err)
	}
	want(t, "reboot action", e.Run(&pb.Step{Id: "r", Action: &pb.Step_Reboot{Reboot: &pb.Reboot{}}}, nil, time.Minute),
		pb.StepOutcome_STEP_OUTCOME_REBOOT_REQUIRED, 0, "reboot requested by the plan")
	want(t, "no action", e.Run(&pb.Step{Id: "empty"}, nil, time.Minute),
		pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_UNSUPPORTED_ACTION, "step empty has no action")
}
