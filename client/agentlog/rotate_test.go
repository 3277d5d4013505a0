package agentlog

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRotatingFileRollsOverAndKeepsN(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.log")
	r, err := OpenRotating(path, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gggg\n"} {
		if _, err := r.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// 10 bytes a file: two lines each, the oldest pair dropped.
	want := map[string]string{"agent.log": "gggg\n", "agent.log.1": "eeee\nffff\n", "agent.log.2": "cccc\ndddd\n"}
	for name, content := range want {
		if got := readFile(t, filepath.Join(filepath.Dir(path), name)); got != content {
			t.Errorf("%s = %q, want %q", name, got, content)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("%s.3 exists: only 2 old files must be kept", path)
	}
}

func TestRotatingFileAppendsToExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.log")
	if err := os.WriteFile(path, []byte("12345678\n"), 0600); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRotating(path, 12, 1)
	if err != nil {
		t.Fatal(err)
	}
	r.Write([]byte("ab\n")) // 12 bytes: fits
	r.Write([]byte("cd\n")) // would pass 12: rolls over
	r.Close()
	if got := readFile(t, path+".1"); got != "12345678\nab\n" {
		t.Errorf("old file = %q", got)
	}
	if got := readFile(t, path); got != "cd\n" {
		t.Errorf("new file = %q", got)
	}
}

func TestRotatingFileOversizedWriteGetsOwnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.log")
	r, _ := OpenRotating(path, 4, 3)
	r.Write([]byte("x\n"))
	big := strings.Repeat("y", 20) + "\n"
	r.Write([]byte(big))
	r.Write([]byte("z\n"))
	r.Close()
	if got := readFile(t, path+".1"); got != big {
		t.Errorf("oversized write split or misplaced: %q", got)
	}
	if got := readFile(t, path+".2"); got != "x\n" {
		t.Errorf("first file = %q", got)
	}
}

func TestRotatingFileConcurrentWritesKeepLinesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.log")
	const writers, lines, limit, keep = 8, 200, 4096, 50
	r, err := OpenRotating(path, limit, keep)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < lines; i++ {
				fmt.Fprintf(r, "writer %d line %03d %s\n", w, i, strings.Repeat(".", i%40))
			}
		}(w)
	}
	wg.Wait()
	r.Close()
	files, _ := filepath.Glob(path + "*")
	if len(files) < 3 || len(files) > keep {
		t.Fatalf("%d files: the test must roll over several times and drop nothing", len(files))
	}
	var got []string
	for _, f := range files {
		content := readFile(t, f)
		if len(content) > limit {
			t.Errorf("%s has %d bytes, over the %d limit", f, len(content), limit)
		}
		got = append(got, strings.Split(strings.TrimSuffix(content, "\n"), "\n")...)
	}
	if len(got) != writers*lines {
		t.Fatalf("%d lines in %d files, want %d", len(got), len(files), writers*lines)
	}
	seen := map[string]int{}
	for _, line := range got {
		seen[line]++
	}
	for w := 0; w < writers; w++ {
		for i := 0; i < lines; i++ {
			line := fmt.Sprintf("writer %d line %03d %s", w, i, strings.Repeat(".", i%40))
			if seen[line] != 1 {
				t.Fatalf("%q found %d times, want once (lines lost, split or repeated)", line, seen[line])
			}
		}
	}
}

func TestRotatingFileGoesOnWhenRolloverFails(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses a directory where the rollover target must be")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.log")
	r, _ := OpenRotating(path, 8, 1)
	// A non-empty directory named agent.log.1 makes the rename fail.
	if err := os.MkdirAll(filepath.Join(path+".1", "x"), 0700); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"one\n", "two\n", "three\n"} {
		if _, err := r.Write([]byte(s)); err != nil {
			t.Fatalf("write %q: %v", s, err)
		}
	}
	r.Close()
	got := readFile(t, path)
	for _, s := range []string{"one\n", "two\n", "three\n", "log rollover"} {
		if !strings.Contains(got, s) {
			t.Errorf("log lost %q after a failed rollover:\n%s", s, got)
		}
	}
	if strings.Count(got, "rollover") != 1 {
		t.Errorf("the failure must be noted once:\n%s", got)
	}
}

func TestRotatingFileRefusesBadLimitsAndWritesAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.log")
	if _, err := OpenRotating(path, 0, 1); err == nil {
		t.Error("size 0 accepted")
	}
	if _, err := OpenRotating(path, 10, 0); err == nil {
		t.Error("keep 0 accepted")
	}
	r, _ := OpenRotating(path, 10, 1)
	r.Close()
	if _, err := r.Write([]byte("x")); err == nil {
		t.Error("write after Close succeeded")
	}
}
