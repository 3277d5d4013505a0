package windows

import (
	"time"

	"purser/client/agentlog"
)

// Options configure an Executor. The zero value is the real machine.
type Options struct {
	// WorkDir is where self-extracting packages are unpacked before they
	// install (default %TEMP%\purser). What a step unpacks is removed when
	// it ends.
	WorkDir string
	// RebootDelay is how long logged-on users are warned before a reboot
	// (default 60 s).
	RebootDelay time.Duration
	// Log receives what the inventory could not read (it has no error of
	// its own to return).
	Log agentlog.Logger
	// ToolPath is for tests only: the executable that stands in for a
	// Windows tool (ToolWusa, ToolMsiexec, ToolNetsh, ToolPowerShell).
	// Returning "" keeps the real one.
	ToolPath func(tool string) string
}

// The Windows tools the executor runs, as Options.ToolPath names them.
const (
	ToolWusa       = "wusa.exe"
	ToolMsiexec    = "msiexec.exe"
	ToolNetsh      = "netsh.exe"
	ToolPowerShell = "powershell.exe"
)

const (
	defaultRebootDelay = 60 * time.Second
	// outputLimit caps what a process's output keeps: its tail, where
	// the error usually is.
	outputLimit = 64 << 10
)
