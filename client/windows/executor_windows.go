package windows

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"purser/client/agent"
	pb "purserpb/v1"
)

// Executor carries out plan steps on this Windows machine. Its methods may
// be called from several goroutines: it keeps no state between calls but
// what New read.
type Executor struct {
	opts  Options
	facts machineFacts
	// factsErr: the process's own facts could not be read; every action
	// fails naming why rather than guessing paths.
	factsErr error
}

var _ agent.Executor = (*Executor)(nil)

// New is the executor of this machine. It panics without opts.WorkDir (a
// caller's mistake: see Options), and empties the work directory of what
// an agent that crashed during a step left there.
func New(opts Options) *Executor {
	if err := opts.check(); err != nil {
		panic(err)
	}
	if opts.RebootDelay <= 0 {
		opts.RebootDelay = defaultRebootDelay
	}
	if err := emptyWorkDir(opts.WorkDir); err != nil {
		opts.Log.Warningf("cannot empty the work directory %s: %v", opts.WorkDir, err)
	}
	e := &Executor{opts: opts}
	e.facts, e.factsErr = readMachineFacts()
	return e
}

// systemPath is windir\System32\rel as 64-bit Windows sees it, from a
// 32-bit agent too (through Sysnative).
func (e *Executor) systemPath(rel string) string {
	return nativePath(filepath.Join(e.facts.windir, "System32", rel), e.facts.windir, e.facts.wow64)
}

// tool is the executable of a Windows tool: the native one, so that a
// 32-bit agent runs 64-bit wusa, netsh (whose WinHTTP setting is the
// 64-bit one) and PowerShell (which loads MMA's 64-bit COM object).
func (e *Executor) tool(name string) string {
	if e.opts.toolPath != nil {
		if p := e.opts.toolPath(name); p != "" {
			return p
		}
	}
	if name == ToolPowerShell {
		return e.systemPath(`WindowsPowerShell\v1.0\powershell.exe`)
	}
	return e.systemPath(name)
}

// Run carries out the step's action within timeout. Commands show a
// secret as its reference (shownArg); agent.ExecuteStep, its caller,
// registers the job's secrets and masks them in what Run returns.
func (e *Executor) Run(step *pb.Step, params map[string]string, timeout time.Duration) agent.ActionResult {
	return e.run(step, params, limit{at: time.Now().Add(timeout), total: timeout})
}

func (e *Executor) run(step *pb.Step, params map[string]string, lim limit) agent.ActionResult {
	if e.factsErr != nil {
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0, "cannot read this machine's Windows directory: "+e.factsErr.Error())
	}
	for _, name := range step.GetArtifacts() {
		if p, ok := params["artifact:"+name]; !ok || !agent.PathExists(p) {
			return agent.Failed(pb.ErrorClass_ERROR_CLASS_ARTIFACT, 0, "package "+name+" is not staged")
		}
	}
	switch a := step.GetAction().(type) {
	case *pb.Step_InstallUpdate:
		return e.installUpdate(a.InstallUpdate, params, lim)
	case *pb.Step_InstallPackage:
		return e.installPackage(a.InstallPackage, params, lim)
	case *pb.Step_UninstallPackage:
		return e.uninstallPackage(a.UninstallPackage, params, lim)
	case *pb.Step_SetProxy:
		return e.setProxy(a.SetProxy, params, lim)
	case *pb.Step_AddWorkspace:
		return e.addWorkspace(a.AddWorkspace, params, lim)
	case *pb.Step_RemoveWorkspace:
		return e.removeWorkspace(a.RemoveWorkspace, params, lim)
	case *pb.Step_CheckWorkspace:
		return e.checkWorkspace(a.CheckWorkspace, params, lim)
	case *pb.Step_CheckService:
		return e.checkService(a.CheckService, params)
	case *pb.Step_CheckFile:
		return e.checkFile(a.CheckFile, params)
	case *pb.Step_CheckConnectivity:
		return e.checkConnectivity(a.CheckConnectivity, params, lim)
	case *pb.Step_RequirePrerequisite:
		return e.requirePrerequisite(a.RequirePrerequisite)
	case *pb.Step_SetRegistryValue:
		return e.setRegistryValue(a.SetRegistryValue, params)
	case *pb.Step_RunCommand:
		return e.runCommand(a.RunCommand, params, lim)
	case *pb.Step_Reboot:
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_REBOOT_REQUIRED, "reboot requested by the plan")
	case nil:
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_UNSUPPORTED_ACTION, 0, "step "+step.GetId()+" has no action")
	}
	return agent.Failed(pb.ErrorClass_ERROR_CLASS_UNSUPPORTED_ACTION, 0,
		fmt.Sprintf("step %s: the Windows executor does not know action %T", step.GetId(), step.GetAction()))
}

// expandAll expands ${param} references in each field, in place; the
// error names the parameter that has no value.
func expandAll(params map[string]string, fields ...*string) error {
	for _, f := range fields {
		v, err := agent.ExpandRefs(*f, params)
		if err != nil {
			return err
		}
		*f = v
	}
	return nil
}

func agentFailure(err error) agent.ActionResult {
	return agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, 0, err.Error())
}

// shownCommand is a command line for output: the program's file name and
// the arguments as shown (secrets as their references).
func shownCommand(program string, args []string) string {
	return strings.TrimSpace(filepath.Base(program) + " " + strings.Join(args, " "))
}
