package windows

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"purser/client/agent"
	pb "purserpb/v1"
)

// installUpdate runs wusa.exe <msu> /quiet /norestart, the package staged
// under its own name, and returns wusa's exit code as it is: the step's
// exit-code table says what it means (3010 reboot, 0x00240006 already
// installed, 0x80240017 not applicable).
func (e *Executor) installUpdate(a *pb.InstallUpdate, params map[string]string, lim limit) agent.ActionResult {
	kb, pkg := a.GetKb(), a.GetPackage()
	if err := expandAll(params, &kb, &pkg); err != nil {
		return agentFailure(err)
	}
	msu, ok := params["artifact:"+pkg]
	if !ok || !agent.PathExists(msu) {
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_ARTIFACT, 0, "package "+pkg+" is not staged")
	}
	// wusa takes an .msu by its name: the cached file runs as the plan names it.
	dir, msu, err := stageNamed(e.opts.WorkDir, "msu-", msu, pkg)
	if err != nil {
		return agent.Failed(pb.ErrorClass_ERROR_CLASS_ARTIFACT, 0, err.Error())
	}
	defer os.RemoveAll(dir)
	wusa := e.tool(ToolWusa)
	args := []string{msu, "/quiet", "/norestart"}
	shown := fmt.Sprintf("wusa.exe %s /quiet /norestart\n", pkg)
	p, err := runProcess(procSpec{Path: wusa, CmdLine: commandLine(wusa, args), Deadline: lim.at})
	if err != nil {
		return agentFailure(err)
	}
	if p.TimedOut {
		return timeoutResult("wusa.exe "+pkg, lim.total, shown+p.Output)
	}
	return agent.ActionResult{ExitCode: p.ExitCode, Message: wusaMessage(kb, pkg, p.ExitCode), Output: shown + p.Output}
}

// installedUpdates reads the CBS package store: which updates are in
// effect and which wait for a reboot.
func (e *Executor) installedUpdates() (*kbStates, error) {
	states := newKBStates()
	root, err := openKey(hkeyLocalMachine, cbsPackagesKey, syscall.KEY_ENUMERATE_SUB_KEYS|syscall.KEY_QUERY_VALUE)
	if errors.Is(err, syscall.ERROR_FILE_NOT_FOUND) {
		return states, nil // no servicing store (Wine): no update installed
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read installed updates: %w", err)
	}
	defer root.Close()
	names, err := root.subkeys()
	if err != nil {
		return nil, fmt.Errorf("cannot read installed updates: %w", err)
	}
	for _, name := range names {
		kb := kbOfPackage(name)
		if kb == "" && !needsManifest(name) {
			continue
		}
		k, err := openKey(hkeyLocalMachine, cbsPackagesKey+`\`+name, syscall.KEY_QUERY_VALUE)
		if err != nil {
			continue // removed meanwhile, or unreadable: not an installed update
		}
		state, err := k.dword("CurrentState")
		k.Close()
		if err != nil {
			continue
		}
		s := cbsState(state)
		if kb == "" && (s.inEffect() || s.waitsForReboot()) {
			kb = e.manifestKB(name)
		}
		states.add(kb, s)
	}
	return states, nil
}

// manifestKB is the KB a package's manifest declares, "" when unreadable.
func (e *Executor) manifestKB(pkg string) string {
	mum, err := os.ReadFile(filepath.Join(e.facts.windir, "servicing", "Packages", pkg+".mum"))
	if err != nil {
		return ""
	}
	return kbOfManifest(mum)
}
