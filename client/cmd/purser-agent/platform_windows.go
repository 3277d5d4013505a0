//go:build windows

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"purser/client/agent"
	"purser/client/agentlog"
	"purser/client/winsvc"
)

const platformUsage = `As a Windows service (from an elevated prompt):
  purser-agent install --server=HOST:PORT --ca=ca.pem --token_file=FILE [--proxy=HOST:PORT] [--allow_run_command]
  purser-agent uninstall [--purge]
  purser-agent service     (run by the service control manager only)
The service keeps its flags in %ProgramData%\Purser\agent.conf, its state and logs in %ProgramData%\Purser.`

// Log sizes: the agent's log rolls over at 10 MiB, 5 old files kept;
// install/uninstall's log at 1 MiB, 2 kept.
const (
	agentLogBytes, agentLogKeep = 10 << 20, 5
	setupLogBytes, setupLogKeep = 1 << 20, 2
)

// defaultStateDir is %ProgramData%\Purser, or "" (--state_dir is then
// required) when Windows cannot say where ProgramData is.
func defaultStateDir() string {
	dir, err := winsvc.ProgramData()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "Purser")
}

func defaultExecutor() string { return "windows" }

func layout() winsvc.Layout { return winsvc.Layout{StateDir: defaultStateDir()} }

// platformCommand runs install, uninstall and service.
func platformCommand(args []string) (handled bool, code int) {
	if len(args) == 0 {
		return false, 0
	}
	switch args[0] {
	case "install":
		return true, install(args[1:])
	case "uninstall":
		return true, uninstall(args[1:])
	case "service":
		return true, runService(args[1:])
	}
	return false, 0
}

// setupLogs logs install/uninstall on the console and, for warnings and
// errors, in the event log from the first check on: msiexec keeps no
// output of the programs it runs. The returned func closes it.
func setupLogs() func() {
	agentlog.SetOutput(os.Stdout)
	return logEventsTo(winsvc.EventSource)
}

// logToSetupLog adds setup.log to the console, once the state directory
// that holds it is secured; the returned func closes it.
func logToSetupLog() func() {
	f, err := agentlog.OpenRotating(layout().SetupLog(), setupLogBytes, setupLogKeep)
	if err != nil {
		agentlog.Logger{}.Warningf("%v (logging to the console and the event log only)", err)
		return func() {}
	}
	agentlog.SetOutput(fileAndConsole{f})
	return func() {
		agentlog.SetOutput(os.Stdout)
		f.Close()
	}
}

// fileAndConsole writes to a file and to the console, whose failure is
// ignored: msiexec may run us without one (io.MultiWriter would then stop
// before the file).
type fileAndConsole struct{ file io.Writer }

func (w fileAndConsole) Write(p []byte) (int, error) {
	os.Stdout.Write(p)
	return w.file.Write(p)
}

// logEventsTo sends warnings and errors to the event log as source; the
// returned func closes it.
func logEventsTo(source string) func() {
	events, err := winsvc.OpenEventLog(source)
	if err != nil {
		fmt.Fprintf(os.Stderr, "purser-agent: %v\n", err)
		return func() {}
	}
	agentlog.SetExtra(func(level agentlog.Level, line string) {
		kind := winsvc.EventWarning
		if level >= agentlog.Error {
			kind = winsvc.EventError
		}
		events.Report(kind, line)
	})
	return func() {
		agentlog.SetExtra(nil)
		events.Close()
	}
}

func newSetup(log agentlog.Logger, exe string) *winsvc.Setup {
	return &winsvc.Setup{
		Layout: layout(),
		Exe:    exe,
		Validate: func(args []string) error {
			// parseFlags also sets the log level: keep the installer's.
			defer agentlog.SetLevel(agentlog.Info)
			_, err := parseFlags(args, io.Discard)
			return err
		},
		Logf:  log.Infof,
		Warnf: log.Warningf,
	}
}

// readyForSetup says why this process cannot install or uninstall: it
// needs the ProgramData folder and an administrator's rights.
func readyForSetup() error {
	if _, err := winsvc.ProgramData(); err != nil {
		return err
	}
	return winsvc.CheckAdmin()
}

func install(args []string) int {
	o, err := winsvc.ParseInstallArgs(args, os.Stderr)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "purser-agent install: %v\n", err)
		return 2
	}
	defer setupLogs()()
	log := agentlog.Logger{Prefix: "install: "}
	if err := readyForSetup(); err != nil {
		log.Errorf("%v", err)
		return 1
	}
	exe, err := os.Executable()
	if err != nil {
		log.Errorf("cannot find this executable: %v", err)
		return 1
	}
	s := newSetup(log, exe)
	// setup.log goes in the state directory once it is secured.
	if err := s.PrepareStateDir(); err != nil {
		log.Errorf("%v", err)
		return 1
	}
	defer logToSetupLog()()
	log.Infof("installing %s (version %s)", exe, agent.Version)
	if err := s.Install(o); err != nil {
		log.Errorf("%v", err)
		return 1
	}
	return 0
}

func uninstall(args []string) int {
	purge, err := winsvc.ParseUninstallArgs(args, os.Stderr)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "purser-agent uninstall: %v\n", err)
		return 2
	}
	defer setupLogs()()
	log := agentlog.Logger{Prefix: "uninstall: "}
	if err := readyForSetup(); err != nil {
		log.Errorf("%v", err)
		return 1
	}
	// setup.log lives in the directory --purge deletes.
	if !purge && agent.PathExists(layout().LogDir()) {
		defer logToSetupLog()()
	}
	if err := newSetup(log, "").Uninstall(purge); err != nil {
		log.Errorf("%v", err)
		return 1
	}
	return 0
}

// runService runs the agent as the PurserAgent service, with agent.conf's
// flags, logging to logs\purser-agent.log and, for warnings and errors, to
// the event log.
func runService(args []string) int {
	if len(args) > 0 {
		fmt.Fprintf(os.Stderr, "purser-agent service: unexpected argument %q (the settings are in agent.conf)\n", args[0])
		return 2
	}
	console := os.Stderr
	log := agentlog.Logger{Prefix: "service: "}
	// The logs open once the service control manager has started us, and
	// close after Run's own error is logged.
	var logsOnce sync.Once
	closeLogs := func() {}
	err := winsvc.Run(winsvc.ServiceName, func(ctx context.Context) uint32 {
		logsOnce.Do(func() { closeLogs = serviceLogs(log) })
		return serveAgent(ctx, log)
	})
	logsOnce.Do(func() {})
	defer closeLogs()
	if errors.Is(err, winsvc.ErrNotService) {
		fmt.Fprintf(console, "purser-agent service: %v: start it with \"sc start %s\", "+
			"or run the agent in this console with its flags (purser-agent --help)\n", err, winsvc.ServiceName)
		return 2
	}
	if err != nil {
		log.Errorf("%v", err)
		return 1
	}
	return 0
}

// serviceLogs points the agent's log at the rotating file and the event
// log, and standard error (a panic's trace) at a file; the returned func
// closes them.
func serviceLogs(log agentlog.Logger) func() {
	l := layout()
	closers := []func(){logEventsTo(winsvc.EventSource)}
	if err := os.MkdirAll(l.LogDir(), 0700); err != nil {
		log.Errorf("cannot create %s: %v", l.LogDir(), err)
	}
	if f, err := os.OpenFile(l.CrashLog(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0600); err == nil {
		if err := winsvc.RedirectStderr(f); err != nil {
			log.Warningf("panics will not be recorded: %v", err)
		}
	}
	if f, err := agentlog.OpenRotating(l.AgentLog(), agentLogBytes, agentLogKeep); err != nil {
		log.Errorf("cannot open the agent's log: %v", err) // in the event log at least
	} else {
		agentlog.SetOutput(f)
		closers = append(closers, func() { f.Close() })
	}
	return func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
}

// serveAgent runs the agent with agent.conf until the service is stopped,
// and returns the service's exit code.
func serveAgent(ctx context.Context, log agentlog.Logger) uint32 {
	l := layout()
	args, err := winsvc.ReadConfigFile(l.Config())
	if err != nil {
		log.Errorf("%v", err)
		return 2
	}
	c, err := parseFlags(args, io.Discard)
	if err != nil {
		log.Errorf("%s: %v", l.Config(), err)
		return 2
	}
	log.Infof("starting: version %s, server %s, state directory %s", agent.Version, c.server, c.stateDir)
	err = runAgent(ctx, c)
	switch {
	case ctx.Err() != nil:
		if err != nil {
			log.Infof("stopped by the service control manager (%v)", err)
		} else {
			log.Infof("stopped by the service control manager")
		}
		return 0
	case err == nil:
		log.Infof("the agent finished")
		return 0
	}
	log.Errorf("the agent stopped: %v", err)
	var e *exitError
	if errors.As(err, &e) {
		return uint32(e.code)
	}
	return 1
}
