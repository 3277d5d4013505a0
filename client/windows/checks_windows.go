package windows

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"purser/client/agent"
	pb "purserpb/v1"
)

// Evaluate evaluates a check on this machine.
func (e *Executor) Evaluate(c *pb.Check) (bool, error) {
	if e.factsErr != nil {
		return false, fmt.Errorf("cannot read this machine's Windows directory: %v", e.factsErr)
	}
	switch v := c.GetCheck().(type) {
	case *pb.Check_FileExists:
		return e.fileExists(v.FileExists), nil
	case *pb.Check_KbInstalled:
		kb, ok := NormalizeKB(v.KbInstalled)
		if !ok {
			return false, fmt.Errorf("kb_installed: %q is not a KB number", v.KbInstalled)
		}
		kbs, err := e.installedUpdates()
		if err != nil {
			return false, err
		}
		return kbs.Has(kb), nil
	case *pb.Check_DotnetAtLeast:
		return versionAtLeast(e.dotnetVersion(), v.DotnetAtLeast), nil
	case *pb.Check_Service:
		st, err := queryService(v.Service.GetName())
		if err != nil {
			return false, err
		}
		return st.Status == v.Service.GetStatus(), nil
	case *pb.Check_AnyOf:
		// An alternative that cannot be evaluated does not hide one that
		// holds; it fails the check only when none holds.
		var errs []string
		for _, alt := range v.AnyOf.GetChecks() {
			held, err := e.Evaluate(alt)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			if held {
				return true, nil
			}
		}
		if len(errs) > 0 {
			return false, errors.New("any_of: " + strings.Join(errs, "; "))
		}
		return false, nil
	case nil:
		return false, errors.New("the check is empty")
	}
	return false, fmt.Errorf("check %T is not known to the Windows executor", c.GetCheck())
}

// fileExists looks at path as 64-bit Windows sees it.
func (e *Executor) fileExists(path string) bool {
	_, err := os.Stat(nativePath(path, e.facts.windir, e.facts.wow64))
	return err == nil
}

func (e *Executor) checkFile(a *pb.CheckFile, params map[string]string) agent.ActionResult {
	path := a.GetPath()
	if err := expandAll(params, &path); err != nil {
		return agentFailure(err)
	}
	return fileCheckResult(path, e.fileExists(path))
}

func (e *Executor) checkService(a *pb.CheckService, params map[string]string) agent.ActionResult {
	name := a.GetName()
	if err := expandAll(params, &name); err != nil {
		return agentFailure(err)
	}
	st, err := queryService(name)
	if err != nil {
		return agentFailure(err)
	}
	return serviceCheckResult(name, st, a.GetExpect(), a.GetRequired())
}

func (e *Executor) requirePrerequisite(a *pb.RequirePrerequisite) agent.ActionResult {
	held, err := e.Evaluate(a.GetCheck())
	if err != nil {
		return agentFailure(fmt.Errorf("prerequisite %s: %v", a.GetName(), err))
	}
	return prerequisiteResult(a.GetName(), held)
}
