// Package sim is the simulated Windows endpoint: an in-process model of one
// Windows 7 / 8.1 / 2008 R2 machine (KBs, .NET, files, services, MMA and its
// workspaces, proxy, registry, pending reboot) that carries out typed actions
// the way Windows would, with Windows' exit codes and injected faults. Its
// state lives in one file, rewritten atomically after every change, so it
// survives an agent restart (or a SIGKILL) exactly as a disk would.
package sim

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"purser/client/agent"
	pb "purserpb/v1"
)

// MonitoringHost is the MMA binary whose presence says MMA is installed.
const MonitoringHost = `C:\Program Files\Microsoft Monitoring Agent\Agent\MonitoringHost.exe`

// Windows exit codes the simulator returns.
const (
	ExitRebootRequired     = 3010
	ExitAlreadyInstalled   = 2359302     // 0x00240006
	ExitNotApplicable      = -2145124329 // 0x80240017
	ExitFatal              = -2147023293 // 0x80070643 fatal install error
	ExitUntrustedSignature = -2146762487 // 0x800B0109
	ExitMsiFatal           = 1603
)

// ErrRebootLost is Reboot's error when the lose_reboot fault keeps the
// machine down.
var ErrRebootLost = agent.ErrMachineGone

// Machine is a simulated Windows machine backed by its state file.
type Machine struct {
	path string
	mu   sync.Mutex
	m    *pb.SimMachine // guarded by mu
}

var _ agent.Executor = (*Machine)(nil)

// Open loads the machine from stateFile, or creates it from profile when the
// file does not exist. faults, when non-nil, replace the stored ones.
func Open(stateFile, profile, hostname string, faults *pb.SimFaults) (*Machine, error) {
	m := &pb.SimMachine{}
	if agent.PathExists(stateFile) {
		text, err := os.ReadFile(stateFile)
		if err != nil {
			return nil, err
		}
		if err := prototext.Unmarshal(text, m); err != nil {
			return nil, fmt.Errorf("simulated machine %s is corrupt", stateFile)
		}
	} else {
		if profile == "" {
			return nil, fmt.Errorf("no simulated machine at %s: name a profile to create one", stateFile)
		}
		made, err := MakeProfile(profile, hostname)
		if err != nil {
			return nil, err
		}
		m = made
	}
	if faults != nil {
		m.Faults = proto.Clone(faults).(*pb.SimFaults)
	}
	if m.GetFaults().GetMmaRemoved() && m.MmaInstalled {
		m.MmaInstalled = false
		m.Workspaces = nil
		files := m.Files[:0]
		for _, f := range m.Files {
			if f != MonitoringHost {
				files = append(files, f)
			}
		}
		m.Files = files
	}
	s := &Machine{path: stateFile, m: m}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recompute()
	if err := s.save(); err != nil {
		return nil, err
	}
	return s, nil
}

// save writes the machine in protobuf text format, which the end-to-end
// tests read too.
func (s *Machine) save() error {
	text, err := prototext.MarshalOptions{Multiline: true}.Marshal(s.m)
	if err != nil {
		return fmt.Errorf("cannot encode simulated machine %s: %v", s.path, err)
	}
	return agent.WriteFileAtomic(s.path, text, 0600)
}

// Snapshot is a copy of the whole machine state.
func (s *Machine) Snapshot() *pb.SimMachine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(s.m).(*pb.SimMachine)
}

func (s *Machine) hasKb(kb string) bool {
	return containsFold(s.m.GetInventory().GetInstalledKbs(), kb)
}

// nt61 says whether the OS is Windows 7 / 2008 R2, the one that needs the
// SHA-2 and TLS 1.2 updates.
func (s *Machine) nt61() bool {
	p := s.m.GetInventory().GetOs().GetProduct()
	return p == pb.OsProduct_OS_PRODUCT_WINDOWS_7 || p == pb.OsProduct_OS_PRODUCT_WINDOWS_SERVER_2008_R2
}

func (s *Machine) sha2Supported() bool {
	return !s.nt61() || s.hasKb("KB4474419")
}

// recompute derives services from what is installed, as on the real machine.
func (s *Machine) recompute() {
	if s.m.Inventory == nil {
		s.m.Inventory = &pb.Inventory{}
	}
	inv := s.m.Inventory
	inv.PendingReboot = len(s.m.PendingKbs) > 0
	tls12 := !s.nt61() || VersionAtLeast(inv.DotnetVersion, "4.5") || s.hasKb("KB3154518")
	telemetry := s.hasKb("KB3080149")
	health := pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED
	if s.m.MmaInstalled {
		health = pb.ServiceStatus_SERVICE_STATUS_RUNNING
	}
	findService(inv, "healthservice").Status = health
	sense := pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED
	if s.m.MmaInstalled {
		defender := false
		for _, w := range s.m.Workspaces {
			defender = defender || w.GetDefender()
		}
		sense = pb.ServiceStatus_SERVICE_STATUS_STOPPED
		if defender && telemetry && tls12 {
			sense = pb.ServiceStatus_SERVICE_STATUS_RUNNING
		}
	}
	findService(inv, "sense").Status = sense
}

// Inventory is what the machine is now.
func (s *Machine) Inventory() *pb.Inventory {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(s.m.Inventory).(*pb.Inventory)
}

// Evaluate evaluates a check on the machine. A service check on a service the
// machine has never seen adds it as NOT_INSTALLED, unsaved.
func (s *Machine) Evaluate(check *pb.Check) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evaluate(check), nil
}

func (s *Machine) evaluate(check *pb.Check) bool {
	switch c := check.GetCheck().(type) {
	case *pb.Check_FileExists:
		return containsFold(s.m.Files, c.FileExists)
	case *pb.Check_KbInstalled:
		return s.hasKb(c.KbInstalled)
	case *pb.Check_DotnetAtLeast:
		return VersionAtLeast(s.m.GetInventory().GetDotnetVersion(), c.DotnetAtLeast)
	case *pb.Check_Service:
		return findService(s.m.Inventory, c.Service.GetName()).Status == c.Service.GetStatus()
	case *pb.Check_AnyOf:
		for _, sub := range c.AnyOf.GetChecks() {
			if s.evaluate(sub) {
				return true
			}
		}
		return false
	default:
		return false
	}
}

// Run carries out the step's action within timeout. Slow steps and hung
// updates sleep without holding the machine.
func (s *Machine) Run(step *pb.Step, params map[string]string, timeout time.Duration) agent.ActionResult {
	s.mu.Lock()
	slowMs := int64(s.m.GetFaults().GetSlowStepMs())
	if a, ok := step.GetAction().(*pb.Step_InstallUpdate); ok &&
		containsFold(s.m.GetFaults().GetHungKbs(), a.InstallUpdate.GetKb()) {
		slowMs = timeout.Milliseconds() + 1
	}
	s.mu.Unlock()
	if slowMs > 0 {
		slow := time.Duration(math.MaxInt64)
		if slowMs <= math.MaxInt64/int64(time.Millisecond) {
			slow = time.Duration(slowMs) * time.Millisecond
		}
		wait := slow
		if timeout < wait {
			wait = timeout
		}
		time.Sleep(wait)
		if slow > timeout {
			return agent.Failed(pb.ErrorClass_ERROR_CLASS_TIMEOUT, 0, "no answer within "+timeout.String())
		}
	}
	for _, name := range step.GetArtifacts() {
		path, ok := params["artifact:"+name]
		if !ok || !agent.PathExists(path) {
			return agent.Failed(pb.ErrorClass_ERROR_CLASS_ARTIFACT, 0, "package "+name+" is not staged")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var r agent.ActionResult
	switch a := step.GetAction().(type) {
	case *pb.Step_InstallUpdate:
		r = s.installUpdate(a.InstallUpdate)
	case *pb.Step_InstallPackage:
		r = s.installPackage(a.InstallPackage, params)
	case *pb.Step_CheckService, *pb.Step_CheckFile, *pb.Step_CheckConnectivity, *pb.Step_CheckWorkspace,
		*pb.Step_RequirePrerequisite:
		r = s.check(step, params)
	case *pb.Step_Reboot:
		r = agent.Done(pb.StepOutcome_STEP_OUTCOME_REBOOT_REQUIRED, "reboot requested by the plan")
	case *pb.Step_RunCommand:
		r = agent.Failed(pb.ErrorClass_ERROR_CLASS_UNSUPPORTED_ACTION, 0,
			"the simulated endpoint does not run arbitrary commands")
	default:
		r = s.configure(step, params)
	}
	s.recompute()
	if err := s.save(); err != nil {
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0, "saving machine state: "+err.Error())
	}
	return r
}

// failedWithOutput is a FAILED result that keeps what the action printed.
func failedWithOutput(cls pb.ErrorClass, code int32, message, output string) agent.ActionResult {
	r := agent.Failed(cls, code, message)
	r.Output = output
	return r
}

func (s *Machine) installUpdate(a *pb.InstallUpdate) agent.ActionResult {
	osFacts := s.m.GetInventory().GetOs()
	kb, pkg := a.GetKb(), a.GetPackage()
	r := agent.ActionResult{Output: "wusa.exe " + pkg + " /quiet /norestart\n"}
	want := packageNtVersion(pkg)
	have := osFacts.GetVersion()
	if len(have) > 3 {
		have = have[:3]
	}
	archTag := "-x86"
	if osFacts.GetArch() == pb.Arch_ARCH_X64 {
		archTag = "-x64"
	}
	archOk := strings.Contains(strings.ToLower(pkg), archTag)
	if containsFold(s.m.GetFaults().GetNotApplicableKbs(), kb) || (want != "" && want != have) || !archOk {
		r.ExitCode = ExitNotApplicable
		r.Message = kb + " (" + pkg + ") does not apply to this system"
		return r
	}
	if s.hasKb(kb) || containsFold(s.m.PendingKbs, kb) {
		r.ExitCode = ExitAlreadyInstalled
		r.Message = kb + " is already installed"
		return r
	}
	if containsFold(s.m.GetFaults().GetFailingKbs(), kb) {
		r.ExitCode = ExitFatal
		r.Message = kb + ": fatal error during installation (0x80070643)"
		return r
	}
	s.m.InstallLog = append(s.m.InstallLog, &pb.SimInstall{What: kb, AtUnixMs: time.Now().UnixMilli()})
	if kbNeedsReboot(kb) {
		s.m.PendingKbs = append(s.m.PendingKbs, kb)
		r.ExitCode = ExitRebootRequired
		r.Message = kb + " installed; a restart is required"
	} else {
		s.m.Inventory.InstalledKbs = append(s.m.Inventory.InstalledKbs, kb)
		r.ExitCode = 0
	}
	return r
}

func (s *Machine) installPackage(a *pb.InstallPackage, params map[string]string) agent.ActionResult {
	args := make([]string, 0, len(a.GetArgs()))
	for _, arg := range a.GetArgs() {
		expanded, err := agent.ExpandRefs(arg, params)
		if err != nil {
			return agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0, err.Error())
		}
		args = append(args, expanded)
	}
	pkg := a.GetPackage()
	output := pkg + " /c /t:%TEMP%\\purser\n" + a.GetSetup() + " " + strings.Join(args, " ") + "\n"
	x64Pkg := strings.Contains(strings.ToUpper(pkg), "AMD64")
	if x64Pkg != (s.m.GetInventory().GetOs().GetArch() == pb.Arch_ARCH_X64) {
		return failedWithOutput(pb.ErrorClass_ERROR_CLASS_EXIT_CODE, ExitMsiFatal,
			pkg+" is not built for this architecture", output)
	}
	if !s.sha2Supported() {
		return failedWithOutput(pb.ErrorClass_ERROR_CLASS_PREREQUISITE, ExitUntrustedSignature,
			pkg+": SHA-2 signature cannot be verified: SHA-2 code signing support (KB4474419) is missing", output)
	}
	var workspaceID, workspaceKey string
	for _, arg := range args {
		if strings.HasPrefix(arg, "OPINSIGHTS_WORKSPACE_ID=") {
			workspaceID = arg[len("OPINSIGHTS_WORKSPACE_ID="):]
		}
		if strings.HasPrefix(arg, "OPINSIGHTS_WORKSPACE_KEY=") {
			workspaceKey = arg[len("OPINSIGHTS_WORKSPACE_KEY="):]
		}
	}
	what := a.GetProduct()
	if what == "" {
		what = pkg
	}
	s.m.InstallLog = append(s.m.InstallLog, &pb.SimInstall{What: what, AtUnixMs: time.Now().UnixMilli()})
	s.m.MmaInstalled = true
	if !containsFold(s.m.Files, MonitoringHost) {
		s.m.Files = append(s.m.Files, MonitoringHost)
	}
	if workspaceID != "" && s.workspace(workspaceID) < 0 {
		s.m.Workspaces = append(s.m.Workspaces,
			&pb.SimWorkspace{Id: workspaceID, KeyPresent: workspaceKey != "", Defender: true})
	}
	return agent.ActionResult{ExitCode: 0, Output: output}
}

// workspace is the index of the workspace with id, or -1.
func (s *Machine) workspace(id string) int {
	for i, w := range s.m.Workspaces {
		if w.GetId() == id {
			return i
		}
	}
	return -1
}

func (s *Machine) check(step *pb.Step, params map[string]string) agent.ActionResult {
	switch a := step.GetAction().(type) {
	case *pb.Step_CheckService:
		c := a.CheckService
		have := findService(s.m.Inventory, c.GetName()).Status
		state := "sc query " + c.GetName() + ": " + serviceStatusName(have)
		if have == c.GetExpect() {
			return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, state)
		}
		if !c.GetRequired() {
			return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, state+" (recommended, not required)")
		}
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, 0,
			state+", expected "+serviceStatusName(c.GetExpect()))
	case *pb.Step_CheckWorkspace:
		id, err := agent.ExpandRefs(a.CheckWorkspace.GetWorkspaceId(), params)
		if err != nil {
			return agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0, err.Error())
		}
		for _, w := range s.m.Workspaces {
			if w.GetId() == id && w.GetKeyPresent() {
				return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, "workspace "+id+" configured")
			}
		}
		others := ""
		if len(s.m.Workspaces) > 0 {
			others = " (it reports to other workspaces)"
		}
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, 0,
			"workspace "+id+" is not configured in MMA"+others)
	case *pb.Step_CheckFile:
		path := a.CheckFile.GetPath()
		if containsFold(s.m.Files, path) {
			return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, path+" exists")
		}
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, 0, path+" does not exist")
	case *pb.Step_CheckConnectivity:
		var urls []string
		for _, u := range a.CheckConnectivity.GetUrls() {
			expanded, err := agent.ExpandRefs(u, params)
			if err != nil {
				return agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0, err.Error())
			}
			for _, part := range strings.Split(expanded, ",") {
				if part = strings.TrimSpace(part); part != "" {
					urls = append(urls, part)
				}
			}
		}
		if s.m.GetFaults().GetTlsInterception() {
			proxy := s.m.WinhttpProxy
			if proxy == "" {
				proxy = s.m.MmaProxy
			}
			via := ""
			if proxy != "" {
				via = " (proxy " + proxy + ")"
			}
			first := ""
			if len(urls) > 0 {
				first = urls[0]
			}
			return agent.Failed(pb.ErrorClass_ERROR_CLASS_TLS_INTERCEPTION, 0,
				"TLS interception detected on the path to "+first+": the certificate is not issued by Microsoft"+
					via+"; exempt the Defender URLs from inspection")
		}
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED,
			strconv.Itoa(len(urls))+" URLs reachable without interception")
	case *pb.Step_RequirePrerequisite:
		name := a.RequirePrerequisite.GetName()
		if s.evaluate(a.RequirePrerequisite.GetCheck()) {
			return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, name+" present")
		}
		r := agent.Done(pb.StepOutcome_STEP_OUTCOME_BLOCKED, "missing prerequisite: "+name)
		r.ErrorClass = pb.ErrorClass_ERROR_CLASS_PREREQUISITE
		return r
	default:
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0, "not a check")
	}
}

func (s *Machine) configure(step *pb.Step, params map[string]string) agent.ActionResult {
	switch a := step.GetAction().(type) {
	case *pb.Step_SetProxy:
		proxy, err := agent.ExpandRefs(a.SetProxy.GetProxy(), params)
		if err != nil {
			return agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0, err.Error())
		}
		if a.SetProxy.GetTarget() == pb.SetProxy_TARGET_MMA {
			if !s.m.MmaInstalled {
				return agent.Failed(pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, 0, "MMA is not installed")
			}
			s.m.MmaProxy = proxy
		} else {
			s.m.WinhttpProxy = proxy
		}
		if proxy == "" {
			return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, "direct connection")
		}
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, "proxy "+proxy)
	case *pb.Step_AddWorkspace:
		id, idErr := agent.ExpandRefs(a.AddWorkspace.GetWorkspaceId(), params)
		key, keyErr := agent.ExpandRefs(a.AddWorkspace.GetWorkspaceKey(), params)
		if idErr != nil {
			return agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0, idErr.Error())
		}
		if keyErr != nil {
			return agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0, keyErr.Error())
		}
		if !s.m.MmaInstalled {
			return agent.Failed(pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, 0, "MMA is not installed")
		}
		if s.workspace(id) >= 0 {
			return agent.Done(pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, "workspace "+id+" already configured")
		}
		s.m.Workspaces = append(s.m.Workspaces, &pb.SimWorkspace{Id: id, KeyPresent: key != "", Defender: true})
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, "AddCloudWorkspace("+id+"); ReloadConfiguration()")
	case *pb.Step_RemoveWorkspace:
		id, err := agent.ExpandRefs(a.RemoveWorkspace.GetWorkspaceId(), params)
		if err != nil {
			return agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0, err.Error())
		}
		if !s.m.MmaInstalled {
			return agent.Done(pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, "MMA is not installed")
		}
		if i := s.workspace(id); i >= 0 {
			s.m.Workspaces = append(s.m.Workspaces[:i], s.m.Workspaces[i+1:]...)
			return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED,
				"RemoveCloudWorkspace("+id+"); ReloadConfiguration()")
		}
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, "workspace "+id+" not configured")
	case *pb.Step_UninstallPackage:
		if !s.m.MmaInstalled {
			return agent.Done(pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, "not installed")
		}
		s.m.MmaInstalled = false
		s.m.Workspaces = nil
		for i, f := range s.m.Files {
			if f == MonitoringHost {
				s.m.Files = append(s.m.Files[:i], s.m.Files[i+1:]...)
				break
			}
		}
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, a.UninstallPackage.GetProduct()+" removed")
	case *pb.Step_SetRegistryValue:
		v := a.SetRegistryValue
		name := v.GetKey() + `\` + v.GetName()
		if s.m.Registry == nil {
			s.m.Registry = map[string]string{}
		}
		s.m.Registry[name] = v.GetValue()
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, name+" = "+v.GetValue())
	default:
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_UNSUPPORTED_ACTION, 0, "action not modelled by the simulator")
	}
}

// Reboot takes pending updates into effect, or, with the lose_reboot fault,
// leaves the machine down and returns ErrRebootLost.
func (s *Machine) Reboot() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m.GetFaults().GetLoseReboot() {
		s.m.Down = true
		if err := s.save(); err != nil {
			return err
		}
		return ErrRebootLost
	}
	s.m.BootCount++
	s.m.Inventory.InstalledKbs = append(s.m.Inventory.InstalledKbs, s.m.PendingKbs...)
	s.m.PendingKbs = nil
	s.recompute()
	return s.save()
}

// kbNeedsReboot says whether an update needs a reboot to take effect.
func kbNeedsReboot(kb string) bool {
	return kb == "KB4074598" || kb == "KB4474419" || kb == "KB3154518"
}

// findService is the inventory's service name (ASCII case-insensitive),
// added as NOT_INSTALLED when the machine has never had it.
func findService(inv *pb.Inventory, name string) *pb.ServiceState {
	for _, s := range inv.Services {
		if strings.EqualFold(s.GetName(), name) {
			return s
		}
	}
	s := &pb.ServiceState{Name: strings.ToLower(name), Status: pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED}
	inv.Services = append(inv.Services, s)
	return s
}

// serviceStatusName is the status as `sc query` output shows it: "RUNNING".
func serviceStatusName(st pb.ServiceStatus) string {
	return agent.ShortEnum(st.String(), "SERVICE_STATUS_")
}

// packageNtVersion is the NT version a .msu package is built for ("6.1"
// from "Windows6.1-KB...").
func packageNtVersion(pkg string) string {
	lower := strings.ToLower(pkg)
	switch {
	case strings.HasPrefix(lower, "windows6.1-"):
		return "6.1"
	case strings.HasPrefix(lower, "windows8.1-"):
		return "6.3"
	}
	return ""
}

// VersionAtLeast compares dotted versions numerically: "4.5.2" >= "4.5". A
// part that is not a 32-bit decimal number makes it false, as does an empty
// have.
func VersionAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	n := len(h)
	if len(w) > n {
		n = len(w)
	}
	for i := 0; i < n; i++ {
		var a, b int64
		var err error
		if i < len(h) {
			if a, err = strconv.ParseInt(strings.TrimSpace(h[i]), 10, 32); err != nil {
				return false
			}
		}
		if i < len(w) {
			if b, err = strconv.ParseInt(strings.TrimSpace(w[i]), 10, 32); err != nil {
				return false
			}
		}
		if a != b {
			return a > b
		}
	}
	return have != ""
}

// containsFold: Windows compares names (KBs, paths) without case.
func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}
