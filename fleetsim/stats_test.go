package fleetsim

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRPCStatsPercentilesAndErrors(t *testing.T) {
	var s RPCStats
	for i := 100; i >= 1; i-- { // out of order: summaries sort
		s.Record("CheckIn", time.Duration(i)*time.Millisecond, i%10 != 0)
	}
	s.Record("Enroll", 5*time.Millisecond, true)
	got := s.Summaries()
	c := got["CheckIn"]
	// Nearest rank: index round(q * (n-1)) of the sorted values 1..100.
	if c.Calls != 100 || c.Errors != 10 || c.P50Ms != 51 || c.P90Ms != 90 || c.P99Ms != 99 || c.MaxMs != 100 {
		t.Errorf("CheckIn: %+v", c)
	}
	if e := got["Enroll"]; e.Calls != 1 || e.P50Ms != 5 || e.P99Ms != 5 || e.MaxMs != 5 {
		t.Errorf("Enroll: %+v", e)
	}
	if s.TotalCalls() != 101 || s.TotalErrors() != 10 {
		t.Errorf("totals %d %d", s.TotalCalls(), s.TotalErrors())
	}
	s.Reset()
	if s.TotalCalls() != 0 || len(s.Summaries()) != 0 {
		t.Error("Reset kept calls")
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("percentile of nothing")
	}
}

func TestRPCStatsConcurrentRecords(t *testing.T) {
	var s RPCStats
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				s.Record("ReportResult", time.Millisecond, true)
			}
		}()
	}
	wg.Wait()
	if s.TotalCalls() != 8000 {
		t.Errorf("calls %d", s.TotalCalls())
	}
}

func TestRateMeterPeak(t *testing.T) {
	var m RateMeter
	t0 := time.Unix(1000, 0)
	m.Start(t0)
	if m.PeakPerSecond() != 0 {
		t.Error("peak of nothing")
	}
	m.Add(t0.Add(-time.Second)) // before the start: the first bin
	m.Add(t0.Add(100 * time.Millisecond))
	for i := 0; i < 5; i++ {
		m.Add(t0.Add(2*time.Second + time.Duration(i)*100*time.Millisecond))
	}
	m.Add(t0.Add(2999 * time.Millisecond))
	if p := m.PeakPerSecond(); p != 6 {
		t.Errorf("peak %d, want 6", p)
	}
	m.Start(t0)
	if m.PeakPerSecond() != 0 {
		t.Error("Start kept bins")
	}
	m.Add(t0.Add(30 * 24 * time.Hour)) // too late: not counted, no month of bins
	if m.PeakPerSecond() != 0 {
		t.Error("counted an event past the last bin")
	}
	var fresh RateMeter // never started: starts at its first event
	fresh.Add(time.Now())
	fresh.Add(time.Now())
	if fresh.PeakPerSecond() != 2 {
		t.Errorf("peak of a meter never started: %d", fresh.PeakPerSecond())
	}
}

func TestFormatSummaries(t *testing.T) {
	out := FormatSummaries(map[string]RPCSummary{
		"WaitForWork (job)": {Calls: 10, Errors: 1, P50Ms: 1.25, P99Ms: 9.5, MaxMs: 12},
		"CheckIn":           {Calls: 4, P50Ms: 2, P99Ms: 3, MaxMs: 3},
	}, 2)
	want := "  rpc                        calls  errors   calls/s    p50 ms    p99 ms    max ms\n" +
		"  CheckIn                        4       0         2       2.0       3.0       3.0\n" +
		"  WaitForWork (job)             10       1         5       1.2       9.5      12.0\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if !strings.Contains(FormatSummaries(map[string]RPCSummary{"X": {Calls: 1}}, 0), "  X ") {
		t.Error("zero seconds")
	}
}
