package windows

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStageNamedPutsThePackageUnderItsName(t *testing.T) {
	work := filepath.Join(t.TempDir(), "work")
	cached := filepath.Join(t.TempDir(), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	if err := os.WriteFile(cached, []byte("package"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir, staged, err := stageNamed(work, "msu-", cached, "Windows6.1-KB3080149-x64.msu")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(staged) != dir || filepath.Base(staged) != "Windows6.1-KB3080149-x64.msu" ||
		filepath.Dir(dir) != work {
		t.Errorf("staged as %s in %s", staged, dir)
	}
	if b, err := os.ReadFile(staged); err != nil || string(b) != "package" {
		t.Errorf("staged content %q %v", b, err)
	}
	// Another step staging the same package gets a directory of its own.
	dir2, _, err := stageNamed(work, "msu-", cached, "Windows6.1-KB3080149-x64.msu")
	if err != nil || dir2 == dir {
		t.Errorf("second staging: %s %v", dir2, err)
	}
	os.RemoveAll(dir)
	if _, err := os.Stat(cached); err != nil {
		t.Errorf("removing the staged copy removed the cached file: %v", err)
	}
	for _, bad := range []string{"", "..", `a\b.msu`, "a/b.msu", "c:x.msu", "x.msu.", "x?.msu"} {
		if _, _, err := stageNamed(work, "msu-", cached, bad); err == nil {
			t.Errorf("%q accepted as a file name", bad)
		}
	}
	if _, _, err := stageNamed(work, "msu-", cached+".gone", "x.msu"); err == nil {
		t.Error("a missing package was staged")
	}
}
