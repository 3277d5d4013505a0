package windows

import (
	"fmt"
	"strings"
	"syscall"

	"purser/client/agent"
	pb "purserpb/v1"
)

// installedProduct is an Uninstall entry naming the product.
type installedProduct struct {
	Code        string
	DisplayName string
	Uninstall   string // its UninstallString, for a product msiexec cannot remove
}

// findProducts lists the Uninstall entries whose DisplayName is product,
// in both registry views, once per product code.
func findProducts(product string) ([]installedProduct, error) {
	var found []installedProduct
	seen := map[string]bool{}
	for _, view := range []uint32{syscall.KEY_WOW64_64KEY, syscall.KEY_WOW64_32KEY} {
		root, err := openKey(hkeyLocalMachine, uninstallKey, syscall.KEY_ENUMERATE_SUB_KEYS|syscall.KEY_QUERY_VALUE|view)
		if err != nil {
			continue // no such view (32-bit Windows has one)
		}
		names, err := root.subkeys()
		root.Close()
		if err != nil {
			return nil, fmt.Errorf("cannot list installed products: %w", err)
		}
		for _, name := range names {
			k, err := openKey(hkeyLocalMachine, uninstallKey+`\`+name, syscall.KEY_QUERY_VALUE|view)
			if err != nil {
				continue
			}
			display, _ := k.str("DisplayName")
			uninstall, _ := k.str("UninstallString")
			k.Close()
			if !sameProduct(display, product) {
				continue
			}
			p := installedProduct{Code: productCodeOf(name, uninstall), DisplayName: display, Uninstall: uninstall}
			id := p.Code
			if id == "" {
				id = name
			}
			if !seen[id] {
				seen[id] = true
				found = append(found, p)
			}
		}
	}
	return found, nil
}

// uninstallPackage removes every Windows Installer product named product
// with msiexec /x {code} /qn /norestart, returning msiexec's exit code.
func (e *Executor) uninstallPackage(a *pb.UninstallPackage, params map[string]string, lim limit) agent.ActionResult {
	product := a.GetProduct()
	if err := expandAll(params, &product); err != nil {
		return agentFailure(err)
	}
	if strings.TrimSpace(product) == "" {
		return agentFailure(fmt.Errorf("uninstall_package names no product"))
	}
	found, err := findProducts(product)
	if err != nil {
		return agentFailure(err)
	}
	if len(found) == 0 {
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, "not installed")
	}
	msiexec := e.tool(ToolMsiexec)
	var out strings.Builder
	removed, restart := 0, int32(0)
	for _, p := range found {
		if p.Code == "" {
			r := agent.Failed(pb.ErrorClass_ERROR_CLASS_UNSUPPORTED_ACTION, 0, fmt.Sprintf(
				"%s is not a Windows Installer product; its uninstaller is %s", p.DisplayName, p.Uninstall))
			r.Output = out.String()
			return r
		}
		args := uninstallArgs(p.Code)
		fmt.Fprintf(&out, "%s\n", shownCommand("msiexec.exe", args))
		proc, err := runProcess(procSpec{Path: msiexec, CmdLine: commandLine(msiexec, args), Deadline: lim.at})
		if err != nil {
			return withOutput(agentFailure(err), out.String())
		}
		out.WriteString(proc.Output)
		switch {
		case proc.TimedOut:
			return timeoutResult("msiexec /x "+p.Code, lim.total, out.String())
		case proc.ExitCode == exitUnknownProduct: // removed meanwhile
		case failing(proc.ExitCode):
			return agent.ActionResult{ExitCode: proc.ExitCode, Output: out.String(),
				Message: installerMessage("msiexec /x "+p.Code+" ("+p.DisplayName+")", proc.ExitCode)}
		default:
			removed++
			if proc.ExitCode != 0 {
				restart = proc.ExitCode
			}
		}
	}
	if removed == 0 {
		return withOutput(agent.Done(pb.StepOutcome_STEP_OUTCOME_ALREADY_DONE, "not installed"), out.String())
	}
	msg := product + " removed"
	if restart != 0 {
		msg += "; a restart is required"
	}
	// The exit code is msiexec's (3010 when a restart is due): the step's
	// table classifies it.
	return agent.ActionResult{ExitCode: restart, Message: msg, Output: out.String()}
}
