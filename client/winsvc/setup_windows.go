package winsvc

import (
	"fmt"
	"os"
	"time"

	"purser/client/agent"
)

const (
	serviceStartTimeout = 30 * time.Second
	serviceStopTimeout  = 30 * time.Second
	// serviceSettle: how long a started service must keep running for the
	// install to succeed.
	serviceSettle = 3 * time.Second
)

// Setup installs and uninstalls the agent's service on this machine.
type Setup struct {
	Layout Layout
	// Exe is the executable the service runs.
	Exe string
	// Validate parses agent.conf's flags the way the service will.
	Validate func(args []string) error
	// Logf and Warnf report progress and problems.
	Logf, Warnf func(format string, args ...interface{})
}

// PrepareStateDir creates the state directory, restricted to SYSTEM and
// Administrators with all it holds already (see SecureDirectory), and its
// logs directory (where setup.log goes).
func (s *Setup) PrepareStateDir() error {
	if err := SecureDirectory(s.Layout.StateDir, StateDirSDDL, StateFileSDDL); err != nil {
		return err
	}
	return os.MkdirAll(s.Layout.LogDir(), 0700)
}

// reportStateDir logs the state directory's security as Windows reads it
// back: what it enforces is what counts.
func (s *Setup) reportStateDir() {
	sddl, err := DirectorySDDL(s.Layout.StateDir)
	switch {
	case err != nil:
		s.Warnf("%v", err)
	case !protectedAsSet(sddl):
		s.Warnf("state directory %s: Windows reports %s, not the protected %s: check it with icacls",
			s.Layout.StateDir, sddl, StateDirSDDL)
	default:
		s.Logf("state directory %s is restricted to SYSTEM and Administrators: %s", s.Layout.StateDir, sddl)
	}
}

// Install copies the CA and token into the state directory, writes
// agent.conf, registers the event source and installs and starts the
// service. Run again (reinstall, upgrade), it keeps the identity and the
// settings not given. PrepareStateDir must have run.
func (s *Setup) Install(o *InstallOptions) error {
	l := s.Layout
	if err := CheckLocalExe(s.Exe); err != nil {
		return err
	}
	s.reportStateDir()
	caPEM, token, err := readInputs(o)
	if err != nil {
		return err
	}
	enrolled := agent.PathExists(l.Certificate())
	copyToken := token != nil && !enrolled
	if token != nil && enrolled {
		s.Logf("already enrolled (%s exists): the token is not needed and was not copied", l.Certificate())
	}
	args, err := s.serviceConfig(o, caPEM != nil, copyToken, enrolled)
	if err != nil {
		return err
	}

	// A running agent reads agent.conf only when it starts, and may run the
	// executable being replaced.
	if existed, err := StopService(ServiceName, serviceStopTimeout, s.Warnf); err != nil {
		return err
	} else if existed {
		s.Logf("service %s stopped", ServiceName)
	}
	if caPEM != nil {
		if err := agent.WriteFileAtomic(l.EnrollCA(), caPEM, 0600); err != nil {
			return err
		}
		s.Logf("copied the CA certificate %s to %s", o.CA, l.EnrollCA())
	}
	if copyToken {
		if err := agent.WriteFileAtomic(l.EnrollToken(), token, 0600); err != nil {
			return err
		}
		s.Logf("copied the enrollment token %s to %s", o.TokenFile, l.EnrollToken())
	}
	if err := agent.WriteFileAtomic(l.Config(), FormatConfig(args), 0600); err != nil {
		return err
	}
	s.Logf("wrote %s", l.Config())
	if err := InstallEventSource(); err != nil {
		return err
	}
	s.Logf(`event source %s registered (HKLM\%s)`, EventSource, EventSourceKey)
	spec := ServiceSpec{Name: ServiceName, DisplayName: DisplayName, Description: Description,
		CommandLine: ServiceCommandLine(s.Exe)}
	created, err := InstallService(spec, s.Warnf)
	if err == nil {
		verb := "updated"
		if created {
			verb = "created"
		}
		s.Logf("service %s %s: %s, automatic start, LocalSystem, restart on failure", ServiceName, verb, spec.CommandLine)
		if err = StartService(ServiceName, serviceStartTimeout, serviceSettle); err != nil {
			err = fmt.Errorf("%v: see %s and the Application event log (source %s)", err, l.AgentLog(), EventSource)
		}
	}
	if err != nil {
		if created {
			s.undoCreate()
		}
		return err
	}
	s.Logf("service %s started", ServiceName)
	return nil
}

// undoCreate removes the service a failed install created, so no service
// is left pointing at an executable msiexec rolls back. The state
// directory stays: its logs say what failed.
func (s *Setup) undoCreate() {
	if _, err := StopService(ServiceName, serviceStopTimeout, s.Warnf); err != nil {
		s.Warnf("%v", err)
	}
	if _, err := DeleteService(ServiceName); err != nil {
		s.Warnf("%v", err)
		return
	}
	if err := RemoveEventSource(); err != nil {
		s.Warnf("%v", err)
	}
	s.Logf("install failed: service %s and event source %s removed again", ServiceName, EventSource)
}

// readInputs reads and checks the CA and the token first (they may be on a
// share): nothing changes when one is wrong.
func readInputs(o *InstallOptions) (caPEM, token []byte, err error) {
	if o.CA != "" {
		if caPEM, err = os.ReadFile(o.CA); err != nil {
			return nil, nil, fmt.Errorf("--ca: %v", err)
		}
		if err := CheckCA(caPEM, o.CA); err != nil {
			return nil, nil, err
		}
	}
	if o.TokenFile != "" {
		raw, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--token_file: %v", err)
		}
		if token, err = CleanToken(raw, o.TokenFile); err != nil {
			return nil, nil, err
		}
	}
	return caPEM, token, nil
}

// serviceConfig is agent.conf's new content: the installed one with o's
// settings, checked as the service will read it.
func (s *Setup) serviceConfig(o *InstallOptions, caCopied, tokenCopied, enrolled bool) ([]string, error) {
	l := s.Layout
	var existing []string
	if agent.PathExists(l.Config()) {
		var err error
		if existing, err = ReadConfigFile(l.Config()); err != nil {
			return nil, fmt.Errorf("%v (fix or delete it, then install again)", err)
		}
	}
	set, unset := o.Settings(l, caCopied, tokenCopied)
	args := MergeConfig(existing, set, unset)
	willExist := func(p string) bool {
		return (p == l.EnrollCA() && caCopied) || (p == l.EnrollToken() && tokenCopied) || agent.PathExists(p)
	}
	if err := CheckServiceConfig(args, enrolled, willExist); err != nil {
		return nil, err
	}
	if err := s.Validate(args); err != nil {
		return nil, fmt.Errorf("%s would not start the agent: %v", l.Config(), err)
	}
	return args, nil
}

// Uninstall stops and deletes the service and the event source; purge
// also deletes the state directory (the agent's identity, journal and
// logs), which is kept otherwise so a reinstall is the same endpoint.
func (s *Setup) Uninstall(purge bool) error {
	existed, err := StopService(ServiceName, serviceStopTimeout, s.Warnf)
	if err != nil {
		return err
	}
	if existed {
		if _, err := DeleteService(ServiceName); err != nil {
			return err
		}
		s.Logf("service %s stopped and deleted", ServiceName)
	} else {
		s.Logf("service %s was not installed", ServiceName)
	}
	if err := RemoveEventSource(); err != nil {
		return err
	}
	s.Logf("event source %s removed", EventSource)
	if !purge {
		s.Logf("kept %s (identity, journal, logs): a reinstall is the same endpoint; --purge deletes it", s.Layout.StateDir)
		return nil
	}
	if err := os.RemoveAll(s.Layout.StateDir); err != nil {
		return fmt.Errorf("cannot delete %s: %v", s.Layout.StateDir, err)
	}
	s.Logf("deleted %s", s.Layout.StateDir)
	return nil
}
