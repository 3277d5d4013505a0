package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"purser/client/agent"
	"purser/client/agentlog"
	"purser/client/sim"
	pb "purserpb/v1"
)

// Options configure a fleet.
type Options struct {
	Server            string // host:port
	CAPEM             []byte // trusted at enrollment
	Agents            int
	StateRoot         string // one directory per agent below it
	Mix               []MixEntry
	SourceIPs         int // 127.0.0.1 .. 127.0.0.N
	EnrollConcurrency int
	WaitSeconds       int           // the long poll the agents ask for
	RebootTime        time.Duration // a simulated reboot's downtime
	CrashRestart      time.Duration // an agent's restart after a crash
	// Percent of agents with each fault.
	CrashPct, HangPct, LostRebootPct, FailingKBPct float64
}

// Counters are what the fleet's agents did and acted out.
type Counters struct {
	CheckedIn atomic.Int64 // agents checked in since Boot
	StepsRun  atomic.Int64 // steps run to the end and reported
	Reboots   atomic.Int64
	Crashes   atomic.Int64
	Hung      atomic.Int64
	Lost      atomic.Int64 // machines that never came back from a reboot
}

// endpoint is one simulated endpoint: its state directory (key, certificate,
// journal, artifact cache, machine), source address and faults.
type endpoint struct {
	index     int
	dir       string
	sourceIP  string
	crashOnce atomic.Bool // process faults still to act out
	hang      atomic.Bool
	machine   *sim.Machine
	id        *agent.Identity
	conn      atomic.Pointer[grpc.ClientConn] // the last connection that checked in
	counted   atomic.Bool                     // in CheckedIn
	// lastReport is the last (job, attempt) reported; only the agent's
	// goroutine (one at a time) touches it.
	lastReport string
}

// log is the agent's log: lines name the machine.
func (e *endpoint) log() agentlog.Logger {
	return agentlog.Logger{Prefix: fmt.Sprintf("fleet-%05d: ", e.index)}
}

// Fleet is N simulated endpoints, each running the real agent's loop.
type Fleet struct {
	opts          Options
	agents        []*endpoint
	Stats         RPCStats  // every agent RPC, by name
	FirstCheckIns RateMeter // the first check-in on each new connection
	Counters

	ctx      context.Context // ends every agent
	cancel   context.CancelFunc
	wg       sync.WaitGroup // one per running agent
	prepared bool
}

// New lays out a fleet; nothing is created on disk until Prepare.
func New(opts Options) *Fleet {
	f := &Fleet{opts: opts}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	ips := opts.SourceIPs
	if ips < 1 {
		ips = 1
	}
	for i := 0; i < opts.Agents; i++ {
		e := &endpoint{index: i, dir: filepath.Join(opts.StateRoot, fmt.Sprintf("agent-%05d", i)),
			sourceIP: fmt.Sprintf("127.0.0.%d", 1+i%ips)}
		e.crashOnce.Store(hasFault(i, opts.CrashPct, saltCrash))
		e.hang.Store(hasFault(i, opts.HangPct, saltHang))
		f.agents = append(f.agents, e)
	}
	return f
}

// Size is the number of agents.
func (f *Fleet) Size() int { return len(f.agents) }

// Prepare opens (or creates) every machine and enrolls the agents that have
// no identity on disk with token; with an empty token they must all be
// enrolled already (a kept state root). It tries every agent and returns the
// number that failed and the first error.
func (f *Fleet) Prepare(token string) (failures int, first error) {
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	workers := f.opts.EnrollConcurrency
	if workers < 1 {
		workers = 1
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(f.agents); i = int(next.Add(1) - 1) {
				if err := f.prepare(f.agents[i], token); err != nil {
					mu.Lock()
					failures++
					if first == nil {
						first = fmt.Errorf("agent %d: %v", i, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	f.prepared = true
	return failures, first
}

func (f *Fleet) prepare(e *endpoint, token string) error {
	if err := os.MkdirAll(e.dir, 0700); err != nil {
		return err
	}
	// The machine-level faults live in the machine, set afresh on every run.
	faults := &pb.SimFaults{LoseReboot: hasFault(e.index, f.opts.LostRebootPct, saltLostReboot)}
	if hasFault(e.index, f.opts.FailingKBPct, saltFailingKB) {
		faults.FailingKbs = []string{"KB4474419"}
	}
	m, err := sim.Open(filepath.Join(e.dir, "machine.textproto"), profileOf(f.opts.Mix, e.index),
		fmt.Sprintf("fleet-%05d", e.index), faults)
	if err != nil {
		return err
	}
	e.machine = m
	id, err := agent.LoadIdentity(e.dir)
	if err == nil {
		e.id = id
		return nil
	}
	if !errors.Is(err, agent.ErrNotEnrolled) {
		return err
	}
	if token == "" {
		return fmt.Errorf("not enrolled in %s: run the enroll phase first", e.dir)
	}
	id, err = agent.Enroll(f.ctx, f.dialer(e), f.opts.CAPEM, token, m.Inventory(), e.dir)
	if err != nil {
		return err
	}
	e.id = id
	return nil
}

// Boot starts every agent whose machine is up, spread uniformly over splay
// (zero: all at once, a boot storm), and returns how many it started. A
// fleet not prepared yet is loaded from its state root first.
func (f *Fleet) Boot(splay time.Duration) (int, error) {
	if !f.prepared {
		if _, err := f.Prepare(""); err != nil {
			return 0, err
		}
	}
	started := 0
	for i, e := range f.agents {
		if e.machine == nil || e.id == nil || e.machine.Snapshot().GetDown() {
			continue // lost in a reboot of an earlier run: it never boots
		}
		delay := time.Duration(0)
		if splay > 0 {
			delay = time.Duration(float64(splay) * float64(i) / float64(len(f.agents)))
		}
		started++
		f.wg.Add(1)
		go f.live(e, delay)
	}
	return started, nil
}

// Stop ends every agent and waits up to timeout for them; it reports whether
// all ended.
func (f *Fleet) Stop(timeout time.Duration) bool {
	f.cancel()
	done := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// live is the endpoint's life after boot: its agent process runs until the
// fleet stops, and is restarted when it crashes.
func (f *Fleet) live(e *endpoint, delay time.Duration) {
	defer f.wg.Done()
	sleep(f.ctx, delay)
	id := e.id
	for f.ctx.Err() == nil {
		crashed, err := f.runAgent(e, id)
		if f.ctx.Err() != nil {
			return
		}
		if !crashed {
			if err != nil && !errors.Is(err, sim.ErrRebootLost) {
				e.log().Errorf("the agent stopped: %v", err)
			}
			return
		}
		sleep(f.ctx, f.opts.CrashRestart)
		// A new process reads its identity from disk.
		if id, err = agent.LoadIdentity(e.dir); err != nil {
			e.log().Errorf("the agent cannot restart: %v", err)
			return
		}
	}
}

// runAgent runs one agent process: agent.Run in a goroutine of its own, so
// that a crash (runtime.Goexit in a step) ends only that goroutine.
func (f *Fleet) runAgent(e *endpoint, id *agent.Identity) (crashed bool, err error) {
	done := make(chan error, 1)
	go func() {
		exited := false
		defer func() {
			if !exited {
				close(done) // Goexit: the process died
			}
		}()
		a := agent.New(agent.Options{
			Dialer:      f.dialer(e),
			StateDir:    e.dir,
			WaitSeconds: f.opts.WaitSeconds,
			Log:         e.log(),
		}, id, &machine{Machine: e.machine, f: f, e: e})
		err := a.Run(f.ctx)
		exited = true
		done <- err
	}()
	err, ok := <-done
	return !ok, err
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
