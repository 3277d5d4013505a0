package windows

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"purser/client/agentlog"
)

// Options configure an Executor: WorkDir is required, the rest has
// defaults.
type Options struct {
	// WorkDir is where packages are staged and unpacked before they
	// install: a directory only SYSTEM and Administrators can write (the
	// agent's is in its state directory; LocalSystem's %TEMP%,
	// C:\Windows\Temp, lets users create entries). What a step unpacks is
	// removed when it ends; New removes what a crashed agent left.
	WorkDir string
	// RebootDelay is how long logged-on users are warned before a reboot
	// (default 60 s).
	RebootDelay time.Duration
	// Log receives what the inventory could not read (it has no error of
	// its own to return).
	Log agentlog.Logger
	// toolPath, set only by this package's tests, names the executable
	// that stands in for a Windows tool; "" keeps the real one.
	toolPath func(tool string) string
}

// The Windows tools the executor runs.
const (
	ToolWusa       = "wusa.exe"
	ToolMsiexec    = "msiexec.exe"
	ToolNetsh      = "netsh.exe"
	ToolPowerShell = "powershell.exe"
)

// check names a required option that is missing.
func (o Options) check() error {
	if o.WorkDir == "" {
		return errors.New("windows.Options.WorkDir is required: a directory only SYSTEM and Administrators can write")
	}
	return nil
}

// emptyWorkDir removes what dir holds (what steps left when the agent died
// during them), keeping dir; a missing dir is nothing to do.
func emptyWorkDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var first error
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil && first == nil {
			first = err
		}
	}
	return first
}

const (
	defaultRebootDelay = 60 * time.Second
	// outputLimit caps what a process's output keeps: its tail, where
	// the error usually is.
	outputLimit = 64 << 10
)
