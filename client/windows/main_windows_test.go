package windows

// The Windows tests run the real mechanisms. Under Wine, from the
// repository root (a prefix takes ~30 s to create; reuse it):
//
//	GOOS=windows GOARCH=amd64 scripts/go.sh test -c -o /tmp/win.test.exe purser/client/windows
//	WINEPREFIX=/tmp/purser-wine WINEDEBUG=-all wineboot --init
//	WINEPREFIX=/tmp/purser-wine WINEDEBUG=-all wine /tmp/win.test.exe -test.v
//
// A test that writes system state (servicing packages, the edition, .NET
// keys, the WinHTTP proxy, Uninstall entries, a reboot) runs only under
// Wine, never on a real Windows by accident.

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"purser/client/agent"
	pb "purserpb/v1"
)

var (
	standinPath string // directory of the stand-in tools
	standinLog  string
)

func TestMain(m *testing.M) {
	if code, ok := runStandin(); ok {
		os.Exit(code)
	}
	dir, err := os.MkdirTemp("", "purser-standins-")
	if err != nil {
		panic(err)
	}
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	for name := range standins {
		if name == "mmasetup-amd64.exe" || name == "setup.exe" {
			continue // staged as artifacts by the tests that use them
		}
		if err := copyFile(self, filepath.Join(dir, name)); err != nil {
			panic(err)
		}
	}
	standinPath, standinLog = dir, filepath.Join(dir, "calls.log")
	os.Setenv(envStandinDir, dir)
	os.Setenv(envStandinLog, standinLog)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// underWine reports whether Wine runs this process (its ntdll exports
// wine_get_version).
func underWine() bool {
	return syscall.NewLazyDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// requireWine skips a test that changes the machine, unless under Wine.
func requireWine(t *testing.T) {
	t.Helper()
	if !underWine() {
		t.Skip("changes system state: runs only under Wine")
	}
}

// newTestExecutor is the executor with the stand-ins for Windows' tools.
func newTestExecutor(t *testing.T) *Executor {
	t.Helper()
	e := New(Options{
		WorkDir:     filepath.Join(t.TempDir(), "work dir"), // a space, as in real profiles
		RebootDelay: 5 * time.Second,
		toolPath:    func(tool string) string { return filepath.Join(standinPath, tool) },
	})
	if e.factsErr != nil {
		t.Fatalf("New: %v", e.factsErr)
	}
	return e
}

// standinCalls are the stand-in log's records since mark (its size).
func standinCalls(t *testing.T, mark int64) []standinRecord {
	t.Helper()
	f, err := os.Open(standinLog)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Seek(mark, 0)
	var out []standinRecord
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		var r standinRecord
		if err := json.Unmarshal(s.Bytes(), &r); err != nil {
			t.Fatalf("stand-in log: %v", err)
		}
		out = append(out, r)
	}
	return out
}

func logMark() int64 {
	if fi, err := os.Stat(standinLog); err == nil {
		return fi.Size()
	}
	return 0
}

// want checks a result's outcome, class and message (a substring).
func want(t *testing.T, what string, r agent.ActionResult, outcome pb.StepOutcome, class pb.ErrorClass, msg string) {
	t.Helper()
	if r.Outcome != outcome || r.ErrorClass != class || !strings.Contains(r.Message, msg) {
		t.Errorf("%s: got %s %s %q (output %q), want %s %s with %q",
			what, r.Outcome, r.ErrorClass, r.Message, r.Output, outcome, class, msg)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}
