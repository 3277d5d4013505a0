package windows

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"purser/client/agent"
	pb "purserpb/v1"
)

// runCommand runs argv (never a shell string) with its arguments quoted
// by the C runtime's rules, in a job object that the deadline kills with
// all it started. The exit code is returned as it is.
func (e *Executor) runCommand(a *pb.RunCommand, params map[string]string, lim limit) agent.ActionResult {
	argv := make([]string, len(a.GetArgv()))
	for i, t := range a.GetArgv() {
		v, err := agent.ExpandRefs(t, params)
		if err != nil {
			return agentFailure(fmt.Errorf("run_command argument %d: %v", i, err))
		}
		argv[i] = v
	}
	if len(argv) == 0 || argv[0] == "" {
		return agentFailure(errors.New("run_command has no program"))
	}
	program := argv[0]
	native := func(p string) string { return nativePath(p, e.facts.windir, e.facts.wow64) }
	if filepath.IsAbs(program) {
		program = native(program)
	} else {
		// Searched in PATH with PATHEXT, as cmd would ("netsh" finds
		// netsh.exe), System32 natively.
		p, err := searchPath(program, os.Getenv("PATH"), os.Getenv("PATHEXT"), native, isFile)
		if err != nil {
			return agentFailure(fmt.Errorf("run_command: cannot find %s: %v", program, err))
		}
		program = p
	}
	p, err := runProcess(procSpec{Path: program, CmdLine: commandLine(program, argv[1:]), Deadline: lim.at})
	if err != nil {
		return agentFailure(err)
	}
	if p.TimedOut {
		return timeoutResult(filepath.Base(program), lim.total, p.Output)
	}
	return agent.ActionResult{ExitCode: p.ExitCode, Output: p.Output}
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}
