package windows

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"purser/client/agent"
	pb "purserpb/v1"
)

// setProxy sets MMA's own proxy or the machine's WinHTTP proxy; an empty
// proxy is a direct connection.
func (e *Executor) setProxy(a *pb.SetProxy, params map[string]string, lim limit) agent.ActionResult {
	proxy := a.GetProxy()
	if err := expandAll(params, &proxy); err != nil {
		return agentFailure(err)
	}
	proxy = strings.TrimSpace(proxy)
	switch a.GetTarget() {
	case pb.SetProxy_TARGET_MMA:
		return e.setMMAProxy(proxy, lim)
	case pb.SetProxy_TARGET_WINHTTP:
		return e.setWinHTTPProxy(proxy, lim)
	}
	return agent.Failed(pb.ErrorClass_ERROR_CLASS_UNSUPPORTED_ACTION, 0,
		fmt.Sprintf("set_proxy target %s is not MMA or WinHTTP", a.GetTarget()))
}

// setWinHTTPProxy runs the native netsh winhttp (a 32-bit netsh would set
// the WOW64 copy), then reads the 64-bit setting back: netsh's output is
// localised, the registry value is not.
func (e *Executor) setWinHTTPProxy(proxy string, lim limit) agent.ActionResult {
	args, err := netshProxyArgs(proxy)
	if err != nil {
		return agentFailure(err)
	}
	netsh := e.tool(ToolNetsh)
	shown := shownCommand("netsh.exe", args) + "\n"
	p, err := runProcess(procSpec{Path: netsh, CmdLine: commandLine(netsh, args), Deadline: lim.at})
	if err != nil {
		return agentFailure(err)
	}
	out := shown + p.Output
	if p.TimedOut {
		return timeoutResult("netsh", lim.total, out)
	}
	if p.ExitCode != 0 {
		r := agent.Failed(pb.ErrorClass_ERROR_CLASS_EXIT_CODE, p.ExitCode,
			fmt.Sprintf("%s failed with exit code %d", strings.TrimSpace(shown), p.ExitCode))
		r.Output = out
		return r
	}
	now, err := machineWinHTTPProxy()
	if err != nil {
		return withOutput(agentFailure(fmt.Errorf("netsh succeeded but the WinHTTP setting cannot be read back: %v", err)), out)
	}
	if now.Proxy != proxy {
		r := agent.Failed(pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, 0,
			fmt.Sprintf("netsh succeeded but WinHTTP shows %s, not %s", now, winHTTPProxy{Proxy: proxy}))
		r.Output = out
		return r
	}
	return withOutput(agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, now.String()), out)
}

// machineWinHTTPProxy is the WinHTTP proxy of the 64-bit view; no setting
// is a direct connection.
func machineWinHTTPProxy() (winHTTPProxy, error) {
	k, err := openKey(hkeyLocalMachine, winHTTPSettingsKey, syscall.KEY_QUERY_VALUE)
	if errors.Is(err, syscall.ERROR_FILE_NOT_FOUND) {
		return winHTTPProxy{}, nil
	}
	if err != nil {
		return winHTTPProxy{}, err
	}
	defer k.Close()
	typ, b, err := k.value(winHTTPSettingsValue)
	if errors.Is(err, syscall.ERROR_FILE_NOT_FOUND) {
		return winHTTPProxy{}, nil
	}
	if err != nil {
		return winHTTPProxy{}, err
	}
	if typ != regBinary {
		return winHTTPProxy{}, fmt.Errorf("%s\\%s is not REG_BINARY (type %d)", k.name, winHTTPSettingsValue, typ)
	}
	return parseWinHTTPSettings(b)
}
