// Package winsvc makes purser-agent a Windows service: the service control
// dispatcher, installation through the service control manager, the event
// log source, the secured state directory and the service's configuration
// file. The parts that call Windows are in _windows.go files; the rest
// (names, paths, the configuration file, install options) is plain Go,
// tested on any OS.
package winsvc

import (
	"fmt"
	"path/filepath"
	"strings"
)

const (
	// ServiceName is the service's key name (sc query PurserAgent).
	ServiceName = "PurserAgent"
	// DisplayName is what services.msc shows.
	DisplayName = "Purser Agent"
	// Description is the service's description in services.msc.
	Description = "Onboards this computer to Microsoft Defender for Endpoint " +
		"on instruction of the Purser control server."
	// EventSource is the Application event log source of the agent's
	// warnings and errors.
	EventSource = "PurserAgent"
	// EventSourceKey is where EventSource is registered, under HKLM.
	EventSourceKey = `SYSTEM\CurrentControlSet\Services\EventLog\Application\` + EventSource
	// StateDirSDDL owns the state directory by Administrators and gives
	// full control to SYSTEM and Administrators only, inherited by every
	// file; "P" protects it from the ACL of %ProgramData%, which lets users
	// read and create files.
	StateDirSDDL = "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
	// StateFileSDDL is what a file found in the state directory at install
	// gets: the same owner and access, without inheritance flags (a file
	// has no children).
	StateFileSDDL = "O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)"
)

// protectedAsSet reports whether sddl, as Windows reads a directory's
// security back, is StateDirSDDL: a protected DACL ("P", with "AI" or "AR"
// that Windows may add) with exactly its two entries.
func protectedAsSet(sddl string) bool {
	i := strings.Index(sddl, "D:")
	if i < 0 || !strings.HasPrefix(sddl, "O:BA") {
		return false
	}
	flags := sddl[i+2:]
	aces := flags[strings.IndexByte(flags+"(", '('):]
	flags = flags[:len(flags)-len(aces)]
	return strings.Contains(flags, "P") && aces == "(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
}

// Layout names the files of an installed agent inside its state directory
// (%ProgramData%\Purser).
type Layout struct{ StateDir string }

func (l Layout) path(name ...string) string {
	return filepath.Join(append([]string{l.StateDir}, name...)...)
}

// Config is the service's configuration file: the agent's flags, one a line.
func (l Layout) Config() string { return l.path("agent.conf") }

// EnrollCA is the installer's copy of the CA certificate given to install.
// The agent keeps the CA it enrolled with as ca.pem.
func (l Layout) EnrollCA() string { return l.path("enroll-ca.pem") }

// EnrollToken is the installer's copy of the enrollment token; the agent
// deletes it once enrolled.
func (l Layout) EnrollToken() string { return l.path("enroll-token") }

// Certificate is the agent's certificate: present once enrolled.
func (l Layout) Certificate() string { return l.path("cert.pem") }

// LogDir holds the service's logs.
func (l Layout) LogDir() string { return l.path("logs") }

// AgentLog is the service's rotating log.
func (l Layout) AgentLog() string { return l.path("logs", "purser-agent.log") }

// SetupLog records what install and uninstall did (msiexec does not keep
// the output of the programs it runs).
func (l Layout) SetupLog() string { return l.path("logs", "setup.log") }

// CrashLog receives the process's standard error: a Go panic's trace.
func (l Layout) CrashLog() string { return l.path("logs", "purser-agent.stderr.log") }

// ServiceCommandLine is the command line the service control manager runs:
// the executable, quoted (paths under Program Files have spaces), then
// "service".
func ServiceCommandLine(exe string) string {
	return `"` + exe + `" service`
}

// CheckServiceExe refuses paths the service could not run from at boot:
// relative ones, paths with quotes, and network paths (the share may be
// unreachable to LocalSystem, and the file is not under our control).
func CheckServiceExe(exe string) error {
	switch {
	case strings.ContainsRune(exe, '"'):
		return fmt.Errorf("%s: a path with a quote cannot be a service command", exe)
	case strings.HasPrefix(exe, `\\`) || strings.HasPrefix(exe, "//"):
		return fmt.Errorf("%s is on a network share: copy purser-agent.exe to a local folder "+
			`(e.g. C:\Program Files\Purser) and run install from there; the service runs that file`, exe)
	case !isAbsWindows(exe):
		return fmt.Errorf("%s is not an absolute path", exe)
	}
	return nil
}

// isAbsWindows: a drive letter, a colon and a separator (C:\...).
func isAbsWindows(p string) bool {
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
		(p[0]|0x20 >= 'a' && p[0]|0x20 <= 'z')
}
