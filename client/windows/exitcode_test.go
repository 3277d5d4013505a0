//go:build windows

package windows

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A process that ends with exit code 259, STILL_ACTIVE's value, reports
// it: it is not taken for a process still running.
func TestRunProcessReportsExitCode259(t *testing.T) {
	cmd := os.Getenv("ComSpec")
	if cmd == "" {
		cmd = filepath.Join(os.Getenv("SystemRoot"), "System32", "cmd.exe")
	}
	for _, code := range []string{"259", "3010"} {
		p, err := runProcess(procSpec{Path: cmd, CmdLine: `cmd.exe /c exit ` + code, Deadline: time.Now().Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if p.TimedOut || p.ExitCode != map[string]int32{"259": 259, "3010": 3010}[code] {
			t.Errorf("exit %s: got %+v", code, p)
		}
	}
}
