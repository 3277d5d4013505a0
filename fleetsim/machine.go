package fleetsim

import (
	"runtime"
	"time"

	"purser/client/agent"
	"purser/client/sim"
	pb "purserpb/v1"
)

// machine is what an agent of the fleet runs its steps on: its simulated
// Windows machine, plus the faults of the agent process itself (it dies, or
// hangs, in its first step) and a reboot's downtime. Everything else passes
// through to the sim.Machine.
type machine struct {
	*sim.Machine
	f *Fleet
	e *endpoint
}

// stepStarts acts out the process faults at the first call a step makes on
// the machine: the agent has journaled the step STARTED and staged it.
func (m *machine) stepStarts() {
	if m.e.hang.CompareAndSwap(true, false) {
		// Never heard of again. When the simulator stops, the process goes
		// as a killed one would: nothing more journaled.
		m.f.Hung.Add(1)
		<-m.f.ctx.Done()
		runtime.Goexit()
	}
	if m.e.crashOnce.CompareAndSwap(true, false) {
		// The process dies: the goroutine ends without journaling DONE (the
		// journal still says STARTED); the supervisor starts a new agent on
		// the same state directory, which resumes from the journal.
		m.f.Crashes.Add(1)
		runtime.Goexit()
	}
}

func (m *machine) Evaluate(check *pb.Check) (bool, error) {
	m.stepStarts()
	return m.Machine.Evaluate(check)
}

func (m *machine) Run(step *pb.Step, params map[string]string, timeout time.Duration) agent.ActionResult {
	m.stepStarts()
	return m.Machine.Run(step, params, timeout)
}

// Reboot reboots the machine and stays down for the fleet's reboot time. The
// agent then opens a new connection: a new TLS handshake, as after a boot.
func (m *machine) Reboot() error {
	m.f.Reboots.Add(1)
	if err := m.Machine.Reboot(); err != nil {
		m.f.Lost.Add(1) // the lose_reboot fault: the machine never comes back
		return err
	}
	sleep(m.f.ctx, m.f.opts.RebootTime)
	return nil
}
