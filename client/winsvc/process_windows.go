package winsvc

import (
	"fmt"
	"os"
	"path/filepath"
)

// RedirectStderr makes f the process's standard error, for Go's runtime
// too: a service has no console, and a panic's trace would be lost.
func RedirectStderr(f *os.File) error {
	if _, err := call(procSetStdHandle, uintptr(stdErrorHandle), f.Fd()); err != nil {
		return fmt.Errorf("SetStdHandle: %w", err)
	}
	os.Stderr = f
	return nil
}

// CheckLocalExe refuses an executable the service could not run at boot:
// see CheckServiceExe; a mapped network drive is refused too.
func CheckLocalExe(exe string) error {
	if err := CheckServiceExe(exe); err != nil {
		return err
	}
	root := filepath.VolumeName(exe) + `\`
	r, err := utf16(root)
	if err != nil {
		return err
	}
	if t, _, _ := procGetDriveTypeW.Call(ptr(r)); t == driveRemote {
		return fmt.Errorf("%s is on network drive %s: copy purser-agent.exe to a local folder "+
			`(e.g. C:\Program Files\Purser) and run install from there; the service runs that file`, exe, root)
	}
	return nil
}
