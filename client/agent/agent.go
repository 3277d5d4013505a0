package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"purser/client/agentlog"
	pb "purserpb/v1"
)

// Options configure an Agent.
type Options struct {
	Dialer   Dialer
	StateDir string
	// WaitSeconds is the long poll's length (0: answered at once; the
	// server caps it).
	WaitSeconds int
	// BackoffInitial and BackoffMax bound the delay between failed calls.
	BackoffInitial, BackoffMax time.Duration
	// RenewFraction: renew the certificate when less than this fraction of
	// its life is left.
	RenewFraction float64
	// ExitWhenDone: return once the endpoint is in a final state with no
	// work, instead of waiting forever (scripted one-shot runs).
	ExitWhenDone bool
	// AllowRunCommand: this endpoint's install allows run_command steps
	// (arbitrary commands as the agent's account). Off unless the local
	// administrator turned it on.
	AllowRunCommand bool
	Log             agentlog.Logger
}

// Agent is the job loop: check in with inventory, wait for work (long
// poll), stage and run the step, journal the result, report it until
// acknowledged, reboot when the server says so.
type Agent struct {
	opts    Options
	id      *Identity
	exec    Executor
	journal Journal
	cache   Cache
	backoff *Backoff
	conn    *grpc.ClientConn
	client  pb.AgentServiceClient
	log     agentlog.Logger
}

// New makes an agent for an enrolled identity.
func New(opts Options, id *Identity, exec Executor) *Agent {
	if opts.BackoffInitial <= 0 {
		opts.BackoffInitial = 500 * time.Millisecond
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 30 * time.Second
	}
	if opts.RenewFraction <= 0 {
		opts.RenewFraction = 1.0 / 3
	}
	return &Agent{
		opts:    opts,
		id:      id,
		exec:    exec,
		journal: Journal{Path: filepath.Join(opts.StateDir, "journal")},
		cache:   Cache{Dir: filepath.Join(opts.StateDir, "cache")},
		backoff: NewBackoff(opts.BackoffInitial, opts.BackoffMax),
		log:     opts.Log,
	}
}

// fingerprint is this installation: its own nonce and the machine's name
// (from an inventory just read: reading one walks the whole servicing store
// on Windows). A cloned machine carries the nonce along but not, once
// renamed, the name.
func (a *Agent) fingerprint(inv *pb.Inventory) string {
	return a.id.Nonce + "/" + inv.GetHostname()
}

// connect opens a fresh connection (a new boot, a renewed certificate).
func (a *Agent) connect() error {
	if a.conn != nil {
		a.conn.Close()
	}
	conn, err := a.opts.Dialer.Dial(a.id)
	if err != nil {
		return err
	}
	a.conn = conn
	a.client = pb.NewAgentServiceClient(conn)
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func isFinal(s pb.EndpointState) bool {
	switch s {
	case pb.EndpointState_ENDPOINT_STATE_ONBOARDED, pb.EndpointState_ENDPOINT_STATE_OFFBOARDED,
		pb.EndpointState_ENDPOINT_STATE_FAILED, pb.EndpointState_ENDPOINT_STATE_BLOCKED,
		pb.EndpointState_ENDPOINT_STATE_UNSUPPORTED:
		return true
	}
	return false
}

func (a *Agent) checkIn(ctx context.Context) (pb.EndpointState, error) {
	inv := cloneInventory(a.exec.Inventory())
	stamp(inv, a.fingerprint(inv))
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := a.client.CheckIn(cctx, &pb.CheckInRequest{Inventory: inv})
	if err != nil {
		return 0, status.Errorf(status.Code(err), "check-in: %s", status.Convert(err).Message())
	}
	return resp.GetState(), nil
}

// reportJournaled reports the journaled result until the server
// acknowledges it (or refuses it for good).
func (a *Agent) reportJournaled(ctx context.Context) error {
	for ctx.Err() == nil {
		j, err := a.journal.Load()
		if err != nil {
			return err
		}
		if j.GetPhase() != pb.Journal_PHASE_DONE {
			return nil
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := a.client.ReportResult(cctx, j.GetResult())
		cancel()
		if err == nil {
			note := ""
			if resp.GetDuplicate() {
				note = " (already recorded)"
			} else if resp.GetStale() {
				note = " (stale)"
			}
			a.log.Infof("reported %s attempt %d: %s%s", j.GetResult().GetJobId(), j.GetResult().GetAttempt(),
				j.GetResult().GetOutcome(), note)
			a.backoff.Reset()
			return a.journal.Clear()
		}
		switch status.Code(err) {
		case codes.PermissionDenied, codes.NotFound, codes.InvalidArgument:
			// The server will never take it: keep it in the log, drop it from the journal.
			a.log.Errorf("report of %s refused: %s", j.GetResult().GetJobId(), status.Convert(err).Message())
			return a.journal.Clear()
		}
		delay := a.backoff.Next()
		a.log.Warningf("report failed (%s); retrying in %d ms", status.Convert(err).Message(), delay.Milliseconds())
		sleep(ctx, delay)
	}
	return ctx.Err()
}

func (a *Agent) runJob(ctx context.Context, job *pb.Job) error {
	j, err := a.journal.Load()
	if err != nil {
		return err
	}
	if j.GetJobId() == job.GetJobId() && j.GetAttempt() == job.GetAttempt() &&
		j.GetPhase() == pb.Journal_PHASE_STARTED {
		a.log.Infof("resuming %s attempt %d after a restart", job.GetJobId(), job.GetAttempt())
	}
	started := &pb.Journal{JobId: job.GetJobId(), Attempt: job.GetAttempt(),
		Phase: pb.Journal_PHASE_STARTED, StartedUnixMs: time.Now().UnixMilli()}
	if err := a.journal.Save(started); err != nil {
		return err
	}
	step := job.GetStep()
	a.log.Infof("step %d/%d %s (%s) attempt %d", job.GetSeq(), job.GetStepCount(), step.GetId(),
		step.GetKind(), job.GetAttempt())
	t0 := time.Now()
	params, failed := a.cache.Stage(ctx, a.client, job, a.log.Infof)
	var r ActionResult
	if failed != nil {
		r = *failed
	} else {
		r = ExecuteStep(a.exec, step, params, a.opts.AllowRunCommand)
	}
	inv := a.exec.Inventory()
	done := &pb.Journal{JobId: started.JobId, Attempt: started.Attempt, Phase: pb.Journal_PHASE_DONE,
		StartedUnixMs: started.StartedUnixMs,
		Result:        MakeReport(job, r, time.Since(t0), inv, a.fingerprint(inv))}
	if err := a.journal.Save(done); err != nil {
		return err
	}
	a.log.Infof("step %s: %s %s", step.GetId(), r.Outcome, r.Message)
	return a.reportJournaled(ctx)
}

// RenewAt is when a certificate is due for renewal: once less than
// fraction of its life is left.
func RenewAt(certPEM []byte, fraction float64) (time.Time, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return time.Time{}, err
	}
	life := cert.NotAfter.Sub(cert.NotBefore)
	return cert.NotAfter.Add(-time.Duration(float64(life) * fraction)), nil
}

// maybeRenew renews the certificate once it is due, with the same key: the
// endpoint id is derived from it, and a later re-enrollment must find the
// same endpoint. An agent that stays connected for weeks renews too: this
// runs before every long poll, not only at check-in.
func (a *Agent) maybeRenew(ctx context.Context) error {
	due, err := RenewAt(a.id.CertPEM, a.opts.RenewFraction)
	if err != nil {
		return err
	}
	if time.Now().Before(due) {
		return nil
	}
	csr, err := MakeCSR(a.id.KeyPEM, a.id.EndpointID)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := a.client.RenewCertificate(cctx, &pb.RenewCertificateRequest{CsrPem: string(csr)})
	if err != nil {
		return fmt.Errorf("renewal: %s", status.Convert(err).Message())
	}
	if err := SaveCertificate(a.opts.StateDir, a.id.KeyPEM, []byte(resp.GetCertificatePem())); err != nil {
		return err
	}
	a.id.CertPEM = []byte(resp.GetCertificatePem())
	a.log.Infof("certificate renewed")
	return a.connect()
}

// Run runs until ctx ends (or, with ExitWhenDone, until done). It returns
// an error the server's refusal names when retrying cannot help.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.connect(); err != nil {
		return err
	}
	defer func() { a.conn.Close() }()
	checkedIn := false
	for ctx.Err() == nil {
		if !checkedIn {
			state, err := a.checkIn(ctx)
			if err != nil {
				if Fatal(err) {
					return err // revoked or not ours: retrying will not help
				}
				delay := a.backoff.Next()
				a.log.Warningf("%s; retrying in %d ms", status.Convert(err).Message(), delay.Milliseconds())
				sleep(ctx, delay)
				continue
			}
			checkedIn = true
			a.backoff.Reset()
			a.log.Infof("checked in as %s: %s", a.id.EndpointID, state)
		}
		if err := a.maybeRenew(ctx); err != nil {
			a.log.Warningf("renewal: %v", err)
		}
		// A result from before a restart goes first.
		if err := a.reportJournaled(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, time.Duration(a.opts.WaitSeconds+15)*time.Second)
		resp, err := a.client.WaitForWork(cctx, &pb.WaitForWorkRequest{WaitSeconds: int32(a.opts.WaitSeconds)})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if Fatal(err) {
				return status.Errorf(status.Code(err), "wait for work: %s", status.Convert(err).Message())
			}
			delay := a.backoff.Next()
			a.log.Warningf("wait for work: %s; retrying in %d ms", status.Convert(err).Message(), delay.Milliseconds())
			checkedIn = false
			sleep(ctx, delay)
			continue
		}
		a.backoff.Reset()
		if resp.GetReboot() {
			a.log.Infof("rebooting: a step asked for it and the run's policy allows it now")
			err := a.exec.Reboot()
			switch {
			case err == ErrRebootOrdered:
				sleep(ctx, rebootGrace)
				if ctx.Err() != nil {
					return nil // the shutdown stopped us
				}
				a.log.Warningf("the machine did not restart within %v of the order; going on", rebootGrace)
			case errors.Is(err, ErrMachineGone):
				return err
			case err != nil:
				// Asked again at the next poll; the server's reboot deadline
				// bounds how long this can last.
				delay := a.backoff.Next()
				a.log.Errorf("cannot reboot: %v; asking again in %d ms", err, delay.Milliseconds())
				sleep(ctx, delay)
				continue
			}
			// A new boot: a new connection, and the new inventory first.
			if err := a.connect(); err != nil {
				return err
			}
			checkedIn = false
			continue
		}
		if job := resp.GetJob(); job != nil {
			if err := a.runJob(ctx, job); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			continue
		}
		if a.opts.ExitWhenDone {
			if state, err := a.checkIn(ctx); err == nil && isFinal(state) {
				a.log.Infof("nothing left to do: %s", state)
				return nil
			}
		}
		if s := resp.GetRetryAfterSeconds(); s > 0 {
			sleep(ctx, time.Duration(s)*time.Second)
		}
	}
	return nil
}
