package windows

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWorkDirIsRequired(t *testing.T) {
	if err := (Options{}).check(); err == nil || !strings.Contains(err.Error(), "WorkDir is required") {
		t.Errorf("no WorkDir: got %v", err)
	}
	if err := (Options{WorkDir: "w"}).check(); err != nil {
		t.Error(err)
	}
}

// What a crashed agent left in the work directory goes; the directory
// stays, and a missing one is no error.
func TestEmptyWorkDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "work")
	if err := emptyWorkDir(dir); err != nil {
		t.Errorf("missing directory: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "pkg-123", "unpacked"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(dir, "pkg-123", "unpacked", "setup.exe"), filepath.Join(dir, "stray")} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := emptyWorkDir(dir); err != nil {
		t.Fatal(err)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("left %v (%v)", left, err)
	}
}
