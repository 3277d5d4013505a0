package fleetsim

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// RPCSummary is one RPC's calls, errors and latency percentiles.
type RPCSummary struct {
	Calls, Errors              int64
	P50Ms, P90Ms, P99Ms, MaxMs float64
}

// RPCStats keeps per-RPC latencies and errors of a fleet since the last Reset.
type RPCStats struct {
	mu    sync.Mutex
	byRPC map[string]*series
}

type series struct {
	ms     []float32 // float32: a 10,000-agent campaign records ~10^6 calls
	errors int64
}

// Record adds one call of rpc.
func (s *RPCStats) Record(rpc string, latency time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byRPC == nil {
		s.byRPC = map[string]*series{}
	}
	r := s.byRPC[rpc]
	if r == nil {
		r = &series{}
		s.byRPC[rpc] = r
	}
	r.ms = append(r.ms, float32(latency.Seconds()*1000))
	if !ok {
		r.errors++
	}
}

// percentile of sorted values: the nearest rank.
func percentile(sorted []float32, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)-1) + 0.5)
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i])
}

// Summaries are the summaries by RPC name.
func (s *RPCStats) Summaries() map[string]RPCSummary {
	s.mu.Lock()
	copied := make(map[string]series, len(s.byRPC))
	for k, v := range s.byRPC {
		copied[k] = series{ms: append([]float32(nil), v.ms...), errors: v.errors}
	}
	s.mu.Unlock()
	out := make(map[string]RPCSummary, len(copied))
	for rpc, v := range copied {
		sort.Slice(v.ms, func(i, j int) bool { return v.ms[i] < v.ms[j] })
		r := RPCSummary{Calls: int64(len(v.ms)), Errors: v.errors, P50Ms: percentile(v.ms, 0.50),
			P90Ms: percentile(v.ms, 0.90), P99Ms: percentile(v.ms, 0.99)}
		if len(v.ms) > 0 {
			r.MaxMs = float64(v.ms[len(v.ms)-1])
		}
		out[rpc] = r
	}
	return out
}

// TotalCalls counts every call since the last Reset.
func (s *RPCStats) TotalCalls() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, v := range s.byRPC {
		n += int64(len(v.ms))
	}
	return n
}

// TotalErrors counts every failed call since the last Reset.
func (s *RPCStats) TotalErrors() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, v := range s.byRPC {
		n += v.errors
	}
	return n
}

// Reset forgets every call.
func (s *RPCStats) Reset() {
	s.mu.Lock()
	s.byRPC = nil
	s.mu.Unlock()
}

// RateMeter counts events per one-second bin since a start time.
type RateMeter struct {
	mu    sync.Mutex
	start time.Time
	bins  []int64
}

// Start starts counting again from t.
func (m *RateMeter) Start(t time.Time) {
	m.mu.Lock()
	m.start = t
	m.bins = nil
	m.mu.Unlock()
}

// maxBins bounds a meter's memory: events later than this are not counted.
const maxBins = 7 * 24 * 3600

// Add counts one event at t (events before the start count in the first
// bin; a meter never started starts at its first event).
func (m *RateMeter) Add(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.start.IsZero() {
		m.start = t
	}
	bin := int(t.Sub(m.start) / time.Second)
	if bin < 0 {
		bin = 0
	}
	if bin >= maxBins {
		return
	}
	for len(m.bins) <= bin {
		m.bins = append(m.bins, 0)
	}
	m.bins[bin]++
}

// PeakPerSecond is the fullest bin.
func (m *RateMeter) PeakPerSecond() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var peak int64
	for _, b := range m.bins {
		if b > peak {
			peak = b
		}
	}
	return peak
}

// FormatSummaries is one line per RPC, by name: calls, errors, calls/s over
// seconds, percentiles.
func FormatSummaries(s map[string]RPCSummary, seconds float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-22s %9s %7s %9s %9s %9s %9s\n", "rpc", "calls", "errors", "calls/s", "p50 ms",
		"p99 ms", "max ms")
	names := make([]string, 0, len(s))
	for rpc := range s {
		names = append(names, rpc)
	}
	sort.Strings(names)
	for _, rpc := range names {
		r := s[rpc]
		rate := 0.0
		if seconds > 0 {
			rate = float64(r.Calls) / seconds
		}
		fmt.Fprintf(&b, "  %-22s %9d %7d %9.0f %9.1f %9.1f %9.1f\n", rpc, r.Calls, r.Errors, rate, r.P50Ms,
			r.P99Ms, r.MaxMs)
	}
	return b.String()
}
