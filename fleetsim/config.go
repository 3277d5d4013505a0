package fleetsim

import (
	"flag"
	"fmt"
	"io"
)

// Config is every flag of purser-fleetsim.
type Config struct {
	Server, CA, Cert, Key                          string
	Agents                                         int
	StateRoot, Mix, Phases                         string
	SourceIPs, Threads, EnrollConcurrency          int
	BootSplayMs, IdleSeconds, WaitSeconds          int
	RebootMs, CrashRestartMs, TimeoutSeconds       int
	Plan                                           string
	MaxInFlight                                    int
	CrashPct, HangPct, LostRebootPct, FailingKBPct float64
	EchoServer                                     string
	EchoServerPID                                  int
}

// DefaultMix is the fleet's default profile mix.
const DefaultMix = "win7-sp1-x64-ent:40,win7-sp1-x86-pro:10,win81-x64-ent:20,win81-x86-pro:5," +
	"win2008r2-sp1-x64:25"

// ParseFlags parses the command line; errors (and --help) are printed on out.
func ParseFlags(args []string, out io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("purser-fleetsim", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Server, "server", "127.0.0.1:7443", "purser-server host:port")
	fs.StringVar(&c.CA, "ca", "", "the server's ca.pem")
	fs.StringVar(&c.Cert, "cert", "", "an operator certificate (admin, to create the token)")
	fs.StringVar(&c.Key, "key", "", "its private key")
	fs.IntVar(&c.Agents, "agents", 100, "simulated endpoints")
	fs.StringVar(&c.StateRoot, "state_root", "",
		"where each agent keeps its key, machine and journal; keep it to run phases again with load "+
			"(default: a new directory in /dev/shm, removed at the end: the simulated machines' disks are "+
			"not this machine's disk)")
	fs.StringVar(&c.Mix, "mix", DefaultMix, "profile:weight,... of the fleet")
	fs.StringVar(&c.Phases, "phases", "enroll,boot,idle,campaign",
		"what to do, in order: enroll, load, boot, idle, campaign; or bare-storm alone (with --echo_server)")
	fs.IntVar(&c.SourceIPs, "source_ips", 8, "spread connections over 127.0.0.1..N")
	fs.IntVar(&c.Threads, "threads", 4, "ignored (each agent is a goroutine); kept for scripts")
	fs.IntVar(&c.EnrollConcurrency, "enroll_concurrency", 16, "enrollments at once")
	fs.IntVar(&c.BootSplayMs, "boot_splay_ms", 0, "spread boots over this long (0: a storm)")
	fs.IntVar(&c.IdleSeconds, "idle_seconds", 10, "idle phase length")
	fs.IntVar(&c.WaitSeconds, "wait_seconds", 25, "long-poll length the agents ask for")
	fs.IntVar(&c.RebootMs, "reboot_ms", 500, "simulated reboot downtime")
	fs.IntVar(&c.CrashRestartMs, "crash_restart_ms", 1000, "an agent's restart after it crashed")
	fs.IntVar(&c.TimeoutSeconds, "timeout_seconds", 600, "give up on a phase after this long")
	fs.StringVar(&c.Plan, "plan", "mde-downlevel-onboard", "campaign plan")
	fs.IntVar(&c.MaxInFlight, "max_in_flight", 0, "campaign max in flight (0: no limit)")
	fs.Float64Var(&c.CrashPct, "crash_pct", 0, "percent of agents that crash mid-step once")
	fs.Float64Var(&c.HangPct, "hang_pct", 0, "percent of agents that hang in their first step")
	fs.Float64Var(&c.LostRebootPct, "lost_reboot_pct", 0, "percent of machines that never come back from a reboot")
	fs.Float64Var(&c.FailingKBPct, "failing_kb_pct", 0, "percent of machines on which KB4474419 fails")
	fs.StringVar(&c.EchoServer, "echo_server", "",
		"bare-storm: the bench echo server host:port (--ca, --cert, --key: its PKI's CA and client certificate)")
	fs.IntVar(&c.EchoServerPID, "echo_server_pid", 0, "bare-storm: the echo server's process, to read its CPU time")
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: purser-fleetsim --ca ca.pem --cert admin.pem --key admin.key [flags]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	return c, nil
}
