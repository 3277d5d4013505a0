// purser-agent: the thin agent on an endpoint. It enrolls once with a token,
// then checks in, waits for work, runs each step and reports it, over mutual
// TLS. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"purser/client/agent"
	"purser/client/agentlog"
	"purser/client/sim"
	pb "purserpb/v1"
)

// config is every setting of the agent, from flags (or, for the Windows
// service, from its configuration file holding the same flags).
type config struct {
	server, stateDir, ca, tokenFile, proxy  string
	executor                                string
	simProfile, simHostname, simFaults      string
	waitSeconds                             int
	exitWhenDone, allowRunCommand, reenroll bool
	logLevel                                string
}

func newFlagSet(c *config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("purser-agent", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.server, "server", "127.0.0.1:7443", "control server host:port")
	fs.StringVar(&c.stateDir, "state_dir", defaultStateDir(), "where the agent keeps its key, certificate and journal")
	fs.StringVar(&c.ca, "ca", "", "CA certificate to trust at enrollment (the server's ca.pem)")
	fs.StringVar(&c.tokenFile, "token_file", "", "file holding the enrollment token (first start only; deleted once enrolled when it lies in the state directory)")
	fs.StringVar(&c.proxy, "proxy", "", "HTTP proxy host:port for the agent's own connection to the server (CONNECT)")
	fs.StringVar(&c.executor, "executor", defaultExecutor(), "windows (this machine) or sim (a simulated Windows machine)")
	fs.StringVar(&c.simProfile, "sim_profile", "", "simulated machine profile, e.g. win7-sp1-x64-ent")
	fs.StringVar(&c.simHostname, "sim_hostname", "", "simulated machine's hostname")
	fs.StringVar(&c.simFaults, "sim_faults", "", "faults to inject, as purser.v1.SimFaults text format")
	fs.IntVar(&c.waitSeconds, "wait_seconds", 25, "long-poll length")
	fs.BoolVar(&c.exitWhenDone, "exit_when_done", false, "exit once the endpoint is in a final state with no work")
	fs.BoolVar(&c.allowRunCommand, "allow_run_command", false,
		"run plan steps that execute arbitrary commands (as the agent's account); off, a compromised server cannot run commands on this endpoint")
	fs.BoolVar(&c.reenroll, "reenroll", false,
		"enroll again with --token_file even though enrolled (after revocation or expiry); the key, and so the endpoint id, are kept")
	fs.StringVar(&c.logLevel, "log_level", "info", "debug, info, warning or error")
	return fs
}

func parseFlags(args []string, out io.Writer) (*config, error) {
	c := &config{}
	fs := newFlagSet(c, out)
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: purser-agent --server=HOST:PORT --state_dir=DIR [--ca=ca.pem --token_file=F]\n%s\n", platformUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	if c.stateDir == "" {
		return nil, errors.New("--state_dir is required")
	}
	if c.waitSeconds < 1 || c.waitSeconds > 60 {
		return nil, fmt.Errorf("--wait_seconds=%d: must be 1..60", c.waitSeconds)
	}
	levels := map[string]agentlog.Level{"debug": agentlog.Debug, "info": agentlog.Info,
		"warning": agentlog.Warning, "error": agentlog.Error}
	level, ok := levels[c.logLevel]
	if !ok {
		return nil, fmt.Errorf("--log_level=%s: must be debug, info, warning or error", c.logLevel)
	}
	agentlog.SetLevel(level)
	return c, nil
}

// exit codes: 1 failed, 2 bad usage, 3 the (simulated) machine is gone or
// the server unreachable for good.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func fail(code int, format string, args ...interface{}) error {
	return &exitError{code, fmt.Sprintf(format, args...)}
}

func openExecutor(c *config) (agent.Executor, error) {
	switch c.executor {
	case "sim":
		if runtime.GOOS == "windows" {
			// A real endpoint never reports a simulated machine as itself.
			return nil, fail(2, "--executor=sim runs only on Linux (tests, demo, fleet simulator)")
		}
		var faults *pb.SimFaults
		if c.simFaults != "" {
			faults = &pb.SimFaults{}
			if err := prototext.Unmarshal([]byte(c.simFaults), faults); err != nil {
				return nil, fail(2, "--sim_faults is not valid purser.v1.SimFaults text format: %v", err)
			}
		}
		host := c.simHostname
		if host == "" {
			host = c.simProfile
		}
		m, err := sim.Open(c.stateDir+"/machine.textproto", c.simProfile, host, faults)
		if err != nil {
			return nil, fail(1, "%v", err)
		}
		if m.Snapshot().GetDown() {
			return nil, fail(3, "the simulated machine never came back from its reboot")
		}
		return m, nil
	case "windows":
		return windowsExecutor(c)
	}
	return nil, fail(2, "--executor must be windows or sim")
}

// enroll exchanges the token for a certificate when the agent has none
// (or --reenroll).
func enroll(ctx context.Context, c *config, exec agent.Executor, d agent.Dialer, log agentlog.Logger) (*agent.Identity, error) {
	id, err := agent.LoadIdentity(c.stateDir)
	if err == nil && !c.reenroll {
		forgetToken(c, log) // a crash right after enrolling left it
		return id, nil
	}
	if err != nil && !errors.Is(err, agent.ErrNotEnrolled) {
		return nil, fail(1, "%v", err)
	}
	if c.ca == "" || c.tokenFile == "" {
		return nil, fail(2, "not enrolled yet: give --ca and --token_file")
	}
	ca, err := os.ReadFile(c.ca)
	if err != nil {
		return nil, fail(1, "CA certificate: %v", err)
	}
	raw, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return nil, fail(1, "enrollment token: %v", err)
	}
	token := strings.TrimSpace(string(raw))
	agentlog.RegisterSecret(token)
	// A server that cannot be reached (or is overloaded by a fleet booting at
	// once) is waited for; a refused token or request is final.
	backoff := agent.NewBackoff(time.Second, 5*time.Minute)
	for {
		id, err = agent.Enroll(ctx, d, ca, token, exec.Inventory(), c.stateDir)
		if err == nil {
			break
		}
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		default:
			return nil, fail(1, "%s", status.Convert(err).Message())
		}
		delay := backoff.Next()
		log.Warningf("%s; retrying in %d ms", status.Convert(err).Message(), delay.Milliseconds())
		select {
		case <-ctx.Done():
			return nil, fail(1, "stopped before enrolling")
		case <-time.After(delay):
		}
	}
	log.Infof("enrolled as %s", id.EndpointID)
	forgetToken(c, log)
	return id, nil
}

// forgetToken deletes a token file the installer put in the state
// directory: it is spent, and a token is a secret.
func forgetToken(c *config, log agentlog.Logger) {
	if c.tokenFile != "" && strings.HasPrefix(c.tokenFile, c.stateDir+string(os.PathSeparator)) {
		if err := os.Remove(c.tokenFile); err != nil && !os.IsNotExist(err) {
			log.Warningf("cannot delete the spent token file %s: %v", c.tokenFile, err)
		}
	}
}

// runAgent runs the agent until ctx ends; the error's exit code says why it
// stopped.
func runAgent(ctx context.Context, c *config) error {
	if err := os.MkdirAll(c.stateDir, 0700); err != nil {
		return fail(1, "%v", err)
	}
	exec, err := openExecutor(c)
	if err != nil {
		return err
	}
	log := agentlog.Logger{Prefix: "agent " + exec.Inventory().GetHostname() + ": "}
	d := agent.Dialer{Server: c.server, Proxy: c.proxy}
	id, err := enroll(ctx, c, exec, d, log)
	if err != nil {
		return err
	}
	a := agent.New(agent.Options{
		Dialer: d, StateDir: c.stateDir, WaitSeconds: c.waitSeconds,
		ExitWhenDone: c.exitWhenDone, AllowRunCommand: c.allowRunCommand, Log: log,
	}, id, exec)
	if err := a.Run(ctx); err != nil {
		code := 1
		if errors.Is(err, sim.ErrRebootLost) || status.Code(err) == codes.Unavailable {
			code = 3 // the machine is gone
		}
		return fail(code, "%s", status.Convert(err).Message())
	}
	return nil
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *exitError
	if errors.As(err, &e) {
		fmt.Fprintf(os.Stderr, "purser-agent: %s\n", e.msg)
		return e.code
	}
	fmt.Fprintf(os.Stderr, "purser-agent: %v\n", err)
	return 1
}

func main() {
	if handled, code := platformCommand(os.Args[1:]); handled {
		os.Exit(code)
	}
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if err == flag.ErrHelp {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "purser-agent: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(exitCode(runAgent(ctx, c)))
}
