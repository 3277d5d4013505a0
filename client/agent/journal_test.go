package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "purserpb/v1"
)

func TestJournalRoundTripsAndClears(t *testing.T) {
	j := Journal{Path: filepath.Join(t.TempDir(), "journal")}
	if e, err := j.Load(); err != nil || e.GetPhase() != pb.Journal_PHASE_UNSPECIFIED {
		t.Fatalf("empty journal: %v %v", e, err)
	}
	entry := &pb.Journal{JobId: "job-1", Attempt: 2, Phase: pb.Journal_PHASE_DONE,
		Result: &pb.ReportResultRequest{ExitCode: 3010}}
	if err := j.Save(entry); err != nil {
		t.Fatal(err)
	}
	loaded, err := j.Load()
	if err != nil || loaded.GetJobId() != "job-1" || loaded.GetResult().GetExitCode() != 3010 {
		t.Fatalf("loaded %v %v", loaded, err)
	}
	if err := j.Clear(); err != nil {
		t.Fatal(err)
	}
	if e, _ := j.Load(); e.GetJobId() != "" {
		t.Errorf("cleared journal still has %q", e.GetJobId())
	}
	if err := j.Clear(); err != nil {
		t.Errorf("clearing twice: %v", err)
	}
}

func TestJournalCorruptionIsReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	os.WriteFile(path, []byte("\xff\xff\xff\xff garbage"), 0600)
	if _, err := (Journal{Path: path}).Load(); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt journal: %v", err)
	}
}

func TestBackoffIsJitteredAndCapped(t *testing.T) {
	b := NewBackoff(100e6, 800e6) // 100 ms .. 800 ms
	for i, base := range []int64{100, 200, 400, 800, 800} {
		d := b.Next().Milliseconds()
		if d < base/2 || d > base {
			t.Errorf("attempt %d: %d ms outside [%d, %d]", i, d, base/2, base)
		}
	}
	b.Reset()
	if d := b.Next().Milliseconds(); d > 100 {
		t.Errorf("after reset: %d ms", d)
	}
}
