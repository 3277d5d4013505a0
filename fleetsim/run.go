package fleetsim

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"purser/client/agentlog"
	pb "purserpb/v1"
)

// exitError ends the run with a code (2 bad usage, 3 the server).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func fail(code int, format string, args ...interface{}) error {
	return &exitError{code, "purser-fleetsim: " + fmt.Sprintf(format, args...)}
}

// runner runs the phases of one invocation.
type runner struct {
	cfg      *Config
	out      io.Writer
	op       *operator
	fleet    *Fleet
	n        int
	booted   bool
	before   *pb.ServerStats // at the start of the phase
	t0       time.Time
	exitCode int // 1 once a phase fell short; the later phases still run
}

// figure prints a line for scripts: "figure <name> <value>".
func (r *runner) figure(name string, v float64) { fmt.Fprintf(r.out, "figure %s %.6g\n", name, v) }

// stats are the server's own figures. Without them there is nothing left
// to measure: a server that stopped answering ends the run (exit 3).
func (r *runner) stats() (*pb.ServerStats, error) {
	s, err := r.op.stats()
	if err != nil {
		return nil, fail(3, "server stats: %s", message(err))
	}
	return s, nil
}

// waitFor waits until done() (asked every poll) or the timeout, printing
// progress every 5 s.
func (r *runner) waitFor(done func() bool, progress func() string, timeout, poll time.Duration) bool {
	until, nextPrint := time.Now().Add(timeout), time.Now().Add(5*time.Second)
	for !done() {
		if time.Now().After(until) {
			return false
		}
		if time.Now().After(nextPrint) {
			fmt.Fprintf(r.out, "  ... %s\n", progress())
			nextPrint = nextPrint.Add(5 * time.Second)
		}
		time.Sleep(poll)
	}
	return true
}

// Run runs the phases of cfg against a purser-server and returns the exit
// code: 0, 1 when a phase fell short, 2 bad usage, 3 the server failed.
func Run(cfg *Config, stdout, stderr io.Writer) int {
	code, err := run(cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, err)
	}
	return code
}

func run(cfg *Config, stdout io.Writer) (int, error) {
	agentlog.SetLevel(agentlog.Error) // thousands of agents: only what goes wrong
	var pems [3][]byte
	for i, path := range []string{cfg.CA, cfg.Cert, cfg.Key} {
		b, err := os.ReadFile(path)
		if err != nil {
			return 2, fail(2, "%v", err)
		}
		pems[i] = b
	}
	mix, err := ParseMix(cfg.Mix)
	if err != nil {
		return 2, fail(2, "%v", err)
	}
	phases := strings.Split(cfg.Phases, ",")
	for _, p := range phases {
		switch p {
		case "enroll", "load", "boot", "idle", "campaign":
		default:
			return 2, fail(2, "--phases: unknown phase %s (enroll, load, boot, idle, campaign; or bare-storm alone)", p)
		}
	}
	root := cfg.StateRoot
	// A fleet in a directory of our own choosing is temporary: removed at the end.
	temporary := root == ""
	if temporary {
		root = fmt.Sprintf("/dev/shm/purser-fleetsim-%d", os.Getpid())
		defer os.RemoveAll(root)
	}
	op, err := dialOperator(cfg.Server, pems[0], pems[1], pems[2])
	if err != nil {
		return 2, fail(2, "%v", err)
	}
	defer op.conn.Close()
	fleet := New(Options{
		Server: cfg.Server, CAPEM: pems[0], Agents: cfg.Agents, StateRoot: root, Mix: mix,
		SourceIPs: cfg.SourceIPs, EnrollConcurrency: cfg.EnrollConcurrency, WaitSeconds: cfg.WaitSeconds,
		RebootTime:   time.Duration(cfg.RebootMs) * time.Millisecond,
		CrashRestart: time.Duration(cfg.CrashRestartMs) * time.Millisecond,
		CrashPct:     cfg.CrashPct, HangPct: cfg.HangPct, LostRebootPct: cfg.LostRebootPct,
		FailingKBPct: cfg.FailingKBPct,
	})
	// Open long polls are cancelled; an agent hung in a step ends with it.
	defer fleet.Stop(5 * time.Second)
	r := &runner{cfg: cfg, out: stdout, op: op, fleet: fleet, n: fleet.Size()}
	fmt.Fprintf(stdout, "fleet: %d agents in %s, over %d source addresses, mix %s\n", r.n, root,
		cfg.SourceIPs, cfg.Mix)
	for _, phase := range phases {
		// Every phase starts from the server's figures and empty RPC stats.
		before, err := r.stats()
		if err != nil {
			return 3, err
		}
		r.before, r.t0 = before, time.Now()
		fleet.Stats.Reset()
		switch phase {
		case "enroll":
			err = r.enroll()
		case "load":
			if _, first := fleet.Prepare(""); first != nil {
				return 1, fail(1, "%v", first)
			}
		case "boot":
			err = r.boot()
		case "idle":
			err = r.idle()
		case "campaign":
			err = r.campaign()
		}
		if e, ok := err.(*exitError); ok {
			return e.code, e
		}
	}
	return r.exitCode, nil
}

func (r *runner) enroll() error {
	t0 := r.t0
	token, err := r.op.createToken(r.n)
	if err != nil {
		return fail(3, "token: %s", message(err))
	}
	failures, first := r.fleet.Prepare(token)
	secs := time.Since(t0).Seconds()
	firstText := ""
	if first != nil {
		firstText = "; first: " + first.Error()
		r.exitCode = 1
	}
	fmt.Fprintf(r.out, "== enroll: %d agents ready in %.1f s, %d failed%s\n", r.n, secs, failures, firstText)
	fmt.Fprint(r.out, FormatSummaries(r.fleet.Stats.Summaries(), secs))
	r.figure("enroll_seconds", secs)
	r.figure("enroll_errors", float64(failures))
	return nil
}

func (r *runner) boot() error {
	before, t0 := r.before, r.t0
	r.fleet.FirstCheckIns.Start(t0)
	started, err := r.fleet.Boot(time.Duration(r.cfg.BootSplayMs) * time.Millisecond)
	if err != nil {
		return fail(1, "%v", err)
	}
	r.booted = true
	f := r.fleet
	// A local counter: cheap to ask often.
	all := r.waitFor(func() bool { return f.CheckedIn.Load() >= int64(started) },
		func() string { return fmt.Sprintf("%d/%d checked in", f.CheckedIn.Load(), r.n) },
		time.Duration(r.cfg.TimeoutSeconds)*time.Second, 20*time.Millisecond)
	secs := time.Since(t0).Seconds()
	after, err := r.stats()
	if err != nil {
		return err
	}
	cpu := after.GetCpuSeconds() - before.GetCpuSeconds()
	kind := "storm"
	if r.cfg.BootSplayMs != 0 {
		kind = "with splay"
	}
	fmt.Fprintf(r.out, "== boot (%s): %d/%d checked in after %.2f s; peak %d new TLS connections/s; "+
		"%d RPC errors; server CPU %.1f s (%.0f%% of one core)\n", kind, f.CheckedIn.Load(), r.n, secs,
		f.FirstCheckIns.PeakPerSecond(), f.Stats.TotalErrors(), cpu, 100*cpu/secs)
	fmt.Fprint(r.out, FormatSummaries(f.Stats.Summaries(), secs))
	r.figure("boot_seconds", secs)
	r.figure("boot_checked_in", float64(f.CheckedIn.Load()))
	r.figure("boot_peak_handshakes_per_second", float64(f.FirstCheckIns.PeakPerSecond()))
	r.figure("boot_errors", float64(f.Stats.TotalErrors()))
	r.figure("boot_server_cpu_seconds", cpu)
	r.figure("server_rss_before_boot_bytes", float64(before.GetRssBytes()))
	if !all {
		r.exitCode = 1
	}
	return nil
}

func (r *runner) idle() error {
	// Let the last check-ins settle into long polls, then measure.
	var failed error
	r.waitFor(func() bool {
		s, err := r.stats()
		if err != nil {
			failed = err
			return true
		}
		return s.GetParkedLongPolls() >= int32(r.n)
	}, func() string { return "settling" }, 30*time.Second, 500*time.Millisecond)
	if failed != nil {
		return failed
	}
	s0, err := r.stats()
	if err != nil {
		return err
	}
	time.Sleep(time.Duration(r.cfg.IdleSeconds) * time.Second)
	s1, err := r.stats()
	if err != nil {
		return err
	}
	secs := float64(s1.GetUptimeMs()-s0.GetUptimeMs()) / 1000
	cpuPct := 100 * (s1.GetCpuSeconds() - s0.GetCpuSeconds()) / secs
	fmt.Fprintf(r.out, "== idle: %d agents waiting for work; server %.1f MiB resident, %d threads, "+
		"CPU %.1f%% of one core over %.0f s\n", s1.GetParkedLongPolls(), float64(s1.GetRssBytes())/1048576,
		s1.GetThreads(), cpuPct, secs)
	r.figure("idle_parked", float64(s1.GetParkedLongPolls()))
	r.figure("idle_server_rss_bytes", float64(s1.GetRssBytes()))
	r.figure("idle_server_cpu_percent", cpuPct)
	return nil
}

// campaignLine is the campaign's state and counters, as printed.
func campaignLine(c *pb.Campaign) string {
	k := c.GetCounters()
	return fmt.Sprintf("%s: %d done, %d running, %d rebooting, %d pending, %d failed, %d blocked, "+
		"%d skipped of %d", c.GetState(), k.GetDone(), k.GetRunning(), k.GetWaitingReboot(), k.GetPending(),
		k.GetFailed(), k.GetBlocked(), k.GetSkipped(), k.GetMembers())
}

func (r *runner) campaign() error {
	f := r.fleet
	if !r.booted {
		if _, err := f.Boot(0); err != nil {
			return fail(1, "%v", err)
		}
		r.booted = true
	}
	params, err := r.op.prepareCampaign(r.cfg.Plan)
	if err != nil {
		return fail(3, "%s", message(err))
	}
	before, err := r.stats()
	if err != nil {
		return err
	}
	f.Stats.Reset()
	t0 := time.Now()
	c, err := r.op.createCampaign(&pb.CreateCampaignRequest{
		Name: fmt.Sprintf("fleetsim-%d", r.n), PlanName: r.cfg.Plan, Params: params,
		Target: &pb.CampaignTarget{Labels: map[string]string{"fleet": "fleetsim"}},
		Policy: &pb.RolloutPolicy{MaxInFlight: int32(r.cfg.MaxInFlight),
			RebootPolicy: &pb.RebootPolicy{Mode: pb.RebootPolicy_MODE_NOW}},
	})
	if err != nil {
		return fail(3, "campaign: %s", message(err))
	}
	finished := r.waitFor(func() bool {
		c = r.op.campaign(c)
		s := c.GetState()
		return s != pb.CampaignState_CAMPAIGN_STATE_RUNNING && s != pb.CampaignState_CAMPAIGN_STATE_UNSPECIFIED
	}, func() string { return campaignLine(c) }, time.Duration(r.cfg.TimeoutSeconds)*time.Second,
		500*time.Millisecond)
	secs := time.Since(t0).Seconds()
	after, err := r.stats()
	if err != nil {
		return err
	}
	txns := after.GetSqliteTransactions() - before.GetSqliteTransactions()
	writes := after.GetSqliteWrites() - before.GetSqliteWrites()
	cpu := after.GetCpuSeconds() - before.GetCpuSeconds()
	rpcs := f.Stats.TotalCalls()
	perTxn := 0.0
	if txns != 0 {
		perTxn = float64(writes) / float64(txns)
	}
	fmt.Fprintf(r.out, "== campaign %s with %s: %s after %.1f s\n", c.GetId(), r.cfg.Plan, campaignLine(c), secs)
	fmt.Fprintf(r.out, "  %d agent RPCs (%.0f/s), %d steps run, %d reboots, %d RPC errors; SQLite %d "+
		"transactions, %.1f writes each; server CPU %.1f s (%.0f%% of one core)\n", rpcs,
		float64(rpcs)/secs, f.StepsRun.Load(), f.Reboots.Load(), f.Stats.TotalErrors(), txns, perTxn, cpu,
		100*cpu/secs)
	fmt.Fprintf(r.out, "  faults acted out: %d crashes, %d hangs, %d machines lost in a reboot\n",
		f.Crashes.Load(), f.Hung.Load(), f.Lost.Load())
	fmt.Fprint(r.out, FormatSummaries(f.Stats.Summaries(), secs))
	r.figure("campaign_seconds", secs)
	r.figure("campaign_done", float64(c.GetCounters().GetDone()))
	r.figure("campaign_failed", float64(c.GetCounters().GetFailed()))
	r.figure("campaign_rpcs", float64(rpcs))
	r.figure("campaign_rpc_errors", float64(f.Stats.TotalErrors()))
	r.figure("campaign_sqlite_transactions", float64(txns))
	r.figure("campaign_writes_per_transaction", perTxn)
	r.figure("campaign_server_cpu_seconds", cpu)
	if !finished {
		r.exitCode = 1
	}
	return nil
}
