package windows

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"purser/client/agent"
	pb "purserpb/v1"
)

const errBadExeFormat = syscall.Errno(193) // ERROR_BAD_EXE_FORMAT

// installPackage unpacks a self-extracting package (`<package> /c
// /t:<dir>`, the package staged under its own name) and runs
// `<dir>\<setup> <args>`, returning setup's exit code as it is. The args
// reach setup's command line only: what the step shows writes each secret
// as the plan references it.
func (e *Executor) installPackage(a *pb.InstallPackage, params map[string]string, lim limit) agent.ActionResult {
	pkg, setup, product := a.GetPackage(), a.GetSetup(), a.GetProduct()
	if err := expandAll(params, &pkg, &setup, &product); err != nil {
		return agentFailure(err)
	}
	exe, ok := params["artifact:"+pkg]
	if !ok || !agent.PathExists(exe) {
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_ARTIFACT, 0, "package "+pkg+" is not staged")
	}
	if setup == "" || filepath.Base(setup) != setup {
		return agentFailure(fmt.Errorf("install_package: setup %q must be a file name inside %s", setup, pkg))
	}
	args := make([]string, len(a.GetArgs()))
	shown := make([]string, len(a.GetArgs()))
	for i, t := range a.GetArgs() {
		v, err := agent.ExpandRefs(t, params)
		if err != nil {
			return agentFailure(fmt.Errorf("install_package argument %d: %v", i+1, err))
		}
		args[i], shown[i] = v, shownArg(t, v)
	}
	// The package runs as the plan names it (the cache names it by its
	// hash) and unpacks beside itself, into a directory of its own.
	pkgDir, exe, err := stageNamed(e.opts.WorkDir, "pkg-", exe, pkg)
	if err != nil {
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_ARTIFACT, 0, err.Error())
	}
	defer os.RemoveAll(pkgDir)
	dir := filepath.Join(pkgDir, "unpacked")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return agentFailure(fmt.Errorf("cannot create a directory to unpack %s: %v", pkg, err))
	}

	var out strings.Builder
	unpack := extractArgs(shortPath(dir))
	fmt.Fprintf(&out, "%s %s\n", pkg, unpack)
	p, err := runProcess(procSpec{Path: exe, CmdLine: quoteProgram(exe) + " " + unpack, Deadline: lim.at})
	if errors.Is(err, errBadExeFormat) {
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_ARTIFACT, 0, pkg+" is not built for this machine's architecture")
	}
	if err != nil {
		return agentFailure(err)
	}
	out.WriteString(p.Output)
	if p.TimedOut {
		return timeoutResult(pkg+" (unpacking)", lim.total, out.String())
	}
	if p.ExitCode != 0 {
		r := agent.Failed(pb.ErrorClass_ERROR_CLASS_EXIT_CODE, p.ExitCode,
			fmt.Sprintf("unpacking %s failed with exit code %d", pkg, p.ExitCode))
		r.Output = out.String()
		return r
	}
	setupPath := filepath.Join(dir, setup)
	if !agent.PathExists(setupPath) {
		r := agent.Failed(pb.ErrorClass_ERROR_CLASS_ARTIFACT, 0, fmt.Sprintf("%s unpacked no %s", pkg, setup))
		r.Output = out.String()
		return r
	}

	fmt.Fprintf(&out, "%s\n", shownCommand(setup, shown))
	p, err = runProcess(procSpec{Path: setupPath, CmdLine: msiCommandLine(setupPath, args), Dir: dir, Deadline: lim.at})
	if err != nil {
		return agentFailure(err)
	}
	out.WriteString(p.Output)
	if p.TimedOut {
		return timeoutResult(setup, lim.total, out.String())
	}
	what := setup
	if product != "" {
		what = setup + " (" + product + ")"
	}
	if failing(p.ExitCode) && e.lacksSHA2Support() {
		r := agent.Failed(pb.ErrorClass_ERROR_CLASS_PREREQUISITE, p.ExitCode, pkg+
			": SHA-2 signature cannot be verified: SHA-2 code signing support (KB4474419) is missing")
		r.Output = out.String()
		return r
	}
	return agent.ActionResult{ExitCode: p.ExitCode, Message: installerMessage(what, p.ExitCode), Output: out.String()}
}

// failing: not one of the exit codes Windows installers use for success.
func failing(code int32) bool {
	return code != 0 && code != exitRebootRequired && code != exitRebootInitiated
}

// lacksSHA2Support: Windows 7 / 2008 R2 without KB4474419 cannot verify
// the SHA-2 signatures of today's MMA, which then fails to install.
func (e *Executor) lacksSHA2Support() bool {
	v, err := rtlGetVersion()
	if err != nil || v.major != 6 || v.minor != 1 {
		return false
	}
	kbs, err := e.installedUpdates()
	return err == nil && !kbs.Has("KB4474419")
}

// shortPath is dir's 8.3 name when dir has spaces (IExpress reads /T: up
// to a space), or dir itself.
func shortPath(dir string) string {
	if !strings.ContainsAny(dir, " \t") {
		return dir
	}
	p, err := utf16Ptr(dir)
	if err != nil {
		return dir
	}
	buf := make([]uint16, syscall.MAX_PATH)
	n, err := syscall.GetShortPathName(p, &buf[0], uint32(len(buf)))
	if err != nil || n == 0 || int(n) >= len(buf) {
		return dir
	}
	return syscall.UTF16ToString(buf[:n])
}

// runMMAScript runs op's script in the native PowerShell with env (the
// workspace ID, key, proxy), and reads its reply. A failure to get one is
// the returned result.
func (e *Executor) runMMAScript(op mmaOp, env []string, lim limit) (mmaReply, procResult, *agent.ActionResult) {
	ps := e.tool(ToolPowerShell)
	p, err := runProcess(procSpec{Path: ps, CmdLine: commandLine(ps, powerShellArgs(mmaScript(op))), Env: env, Deadline: lim.at})
	if err != nil {
		r := agentFailure(fmt.Errorf("cannot run PowerShell to reach MMA's configuration (%s): %v", op, err))
		return mmaReply{}, p, &r
	}
	p.Output = fmt.Sprintf("AgentConfigManager.MgmtSvcCfg %s (PowerShell)\n%s", op, p.Output)
	if p.TimedOut {
		r := timeoutResult("PowerShell ("+string(op)+")", lim.total, p.Output)
		return mmaReply{}, p, &r
	}
	reply, ok := parseMMAReply(p.Output)
	if !ok {
		r := agent.Failed(pb.ErrorClass_ERROR_CLASS_AGENT, p.ExitCode,
			fmt.Sprintf("PowerShell (%s) ended with exit code %d and no result", op, p.ExitCode))
		r.Output = p.Output
		return reply, p, &r
	}
	return reply, p, nil
}

func withOutput(r agent.ActionResult, output string) agent.ActionResult {
	r.Output = output
	return r
}

func (e *Executor) addWorkspace(a *pb.AddWorkspace, params map[string]string, lim limit) agent.ActionResult {
	id, key, cloud := a.GetWorkspaceId(), a.GetWorkspaceKey(), a.GetAzureCloudType()
	if err := expandAll(params, &id, &key, &cloud); err != nil {
		return agentFailure(err)
	}
	if cloud == "" {
		cloud = "0"
	}
	switch {
	case id == "":
		return agentFailure(errors.New("add_workspace: the workspace ID is empty"))
	case key == "":
		return agentFailure(errors.New("add_workspace: the workspace key is empty"))
	case strings.Trim(cloud, "0123456789") != "":
		return agentFailure(fmt.Errorf("add_workspace: azure_cloud_type %q is not a number", cloud))
	}
	env := []string{envWorkspaceID + "=" + id, envWorkspaceKey + "=" + key, envCloudType + "=" + cloud}
	reply, p, failed := e.runMMAScript(mmaAddWorkspace, env, lim)
	if failed != nil {
		return *failed
	}
	return withOutput(addWorkspaceResult(id, reply, p.ExitCode), p.Output)
}

func (e *Executor) removeWorkspace(a *pb.RemoveWorkspace, params map[string]string, lim limit) agent.ActionResult {
	id := a.GetWorkspaceId()
	if err := expandAll(params, &id); err != nil {
		return agentFailure(err)
	}
	if id == "" {
		return agentFailure(errors.New("remove_workspace: the workspace ID is empty"))
	}
	reply, p, failed := e.runMMAScript(mmaRemoveWorkspace, []string{envWorkspaceID + "=" + id}, lim)
	if failed != nil {
		return *failed
	}
	return withOutput(removeWorkspaceResult(id, reply, p.ExitCode), p.Output)
}

func (e *Executor) checkWorkspace(a *pb.CheckWorkspace, params map[string]string, lim limit) agent.ActionResult {
	id := a.GetWorkspaceId()
	if err := expandAll(params, &id); err != nil {
		return agentFailure(err)
	}
	if id == "" {
		return agentFailure(errors.New("check_workspace: the workspace ID is empty"))
	}
	reply, p, failed := e.runMMAScript(mmaCheckWorkspace, []string{envWorkspaceID + "=" + id}, lim)
	if failed != nil {
		return *failed
	}
	return withOutput(checkWorkspaceResult(id, reply, p.ExitCode), p.Output)
}

// setMMAProxy sets MMA's own proxy (SetProxyInfo), or clears it.
func (e *Executor) setMMAProxy(proxy string, lim limit) agent.ActionResult {
	if proxy != "" {
		if err := checkProxy(proxy); err != nil {
			return agentFailure(err)
		}
	}
	reply, p, failed := e.runMMAScript(mmaSetProxy, []string{envProxy + "=" + proxy}, lim)
	if failed != nil {
		return *failed
	}
	return withOutput(mmaProxyResult(proxy, reply, p.ExitCode), p.Output)
}
