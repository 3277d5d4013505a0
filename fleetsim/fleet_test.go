package fleetsim

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"purser/client/agentlog"
	"purser/fleetsim/internal/testpki"
	pb "purserpb/v1"
)

// fakeServer is a small AgentService: real enrollment (CSRs signed by a test
// CA), check-ins, and one job per endpoint when jobs are on: a reboot step,
// then a reboot, then nothing.
type fakeServer struct {
	pb.UnimplementedAgentServiceServer
	pki  *testpki.PKI
	jobs bool

	mu        sync.Mutex
	enrolls   int
	checkIns  map[string]int // by endpoint
	sources   map[string]bool
	jobsGiven map[string]int
	reported  map[string]int
	rebooted  map[string]bool
}

const testToken = "t0k"

func startFakeServer(t *testing.T, jobs bool) (*fakeServer, string) {
	t.Helper()
	pki, err := testpki.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pki.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{pki: pki, jobs: jobs, checkIns: map[string]int{}, sources: map[string]bool{},
		jobsGiven: map[string]int{}, reported: map[string]int{}, rebooted: map[string]bool{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	pb.RegisterAgentServiceServer(srv, s)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return s, lis.Addr().String()
}

// endpoint is the caller's endpoint id: its certificate's name.
func endpointOf(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", status.Error(codes.Unauthenticated, "no peer")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return "", status.Error(codes.Unauthenticated, "no client certificate")
	}
	return info.State.PeerCertificates[0].Subject.CommonName, nil
}

func (s *fakeServer) Enroll(ctx context.Context, req *pb.EnrollRequest) (*pb.EnrollResponse, error) {
	if req.GetToken() != testToken {
		return nil, status.Error(codes.PermissionDenied, "bad token")
	}
	id := "e-" + req.GetInventory().GetHostname()
	cert, err := s.pki.SignCSR([]byte(req.GetCsrPem()), id)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	s.enrolls++
	s.mu.Unlock()
	return &pb.EnrollResponse{EndpointId: id, CertificatePem: string(cert)}, nil
}

func (s *fakeServer) CheckIn(ctx context.Context, req *pb.CheckInRequest) (*pb.CheckInResponse, error) {
	id, err := endpointOf(ctx)
	if err != nil {
		return nil, err
	}
	p, _ := peer.FromContext(ctx)
	s.mu.Lock()
	s.checkIns[id]++
	s.sources[p.Addr.(*net.TCPAddr).IP.String()] = true
	s.mu.Unlock()
	return &pb.CheckInResponse{EndpointId: id, State: pb.EndpointState_ENDPOINT_STATE_ENROLLED}, nil
}

func (s *fakeServer) WaitForWork(ctx context.Context, req *pb.WaitForWorkRequest) (*pb.WaitForWorkResponse, error) {
	id, err := endpointOf(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	var resp *pb.WaitForWorkResponse
	switch {
	case !s.jobs:
	case s.reported[id] == 0:
		s.jobsGiven[id]++
		resp = &pb.WaitForWorkResponse{Job: &pb.Job{JobId: "j-" + id, Attempt: 1, Seq: 1, StepCount: 1,
			Step: &pb.Step{Id: "reboot", Action: &pb.Step_Reboot{Reboot: &pb.Reboot{}}}}}
	case !s.rebooted[id]:
		s.rebooted[id] = true
		resp = &pb.WaitForWorkResponse{Reboot: true}
	}
	s.mu.Unlock()
	if resp != nil {
		return resp, nil
	}
	wait := time.Duration(req.GetWaitSeconds()) * time.Second
	select {
	case <-ctx.Done():
	case <-time.After(wait + 50*time.Millisecond):
	}
	return &pb.WaitForWorkResponse{}, nil
}

func (s *fakeServer) ReportResult(ctx context.Context, req *pb.ReportResultRequest) (*pb.ReportResultResponse, error) {
	id, err := endpointOf(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.reported[id]++
	s.mu.Unlock()
	return &pb.ReportResultResponse{}, nil
}

func (s *fakeServer) count(f func() int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f()
}

func testOptions(addr string, caPEM []byte, root string, n int) Options {
	return Options{Server: addr, CAPEM: caPEM, Agents: n, StateRoot: root,
		Mix: []MixEntry{{"win7-sp1-x64-ent", 1}, {"win81-x64-ent", 1}}, SourceIPs: 3, EnrollConcurrency: 4,
		WaitSeconds: 1, RebootTime: 50 * time.Millisecond, CrashRestart: 50 * time.Millisecond}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func stop(t *testing.T, f *Fleet) {
	t.Helper()
	t0 := time.Now()
	if !f.Stop(5 * time.Second) {
		t.Fatal("agents still running 5 s after Stop")
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Stop took %v", d)
	}
}

func init() { agentlog.SetLevel(agentlog.Error) }

// A fleet enrolled once is booted again from its state root alone, as with
// --phases=load,boot or --phases=boot on a kept --state_root: same
// identities, no new enrollment, every agent back.
func TestAnEnrolledFleetIsReusedFromItsStateRoot(t *testing.T) {
	srv, addr := startFakeServer(t, false)
	root := t.TempDir()
	const n = 6
	opts := testOptions(addr, srv.pki.CAPEM, root, n)

	first := New(opts)
	if failures, err := first.Prepare(testToken); failures != 0 || err != nil {
		t.Fatalf("enroll: %d failed: %v", failures, err)
	}
	if started, err := first.Boot(0); started != n || err != nil {
		t.Fatalf("boot: %d started: %v", started, err)
	}
	waitUntil(t, "check-ins", func() bool { return first.CheckedIn.Load() == n })
	stop(t, first)
	if got := first.FirstCheckIns.PeakPerSecond(); got < 1 || got > n {
		t.Errorf("peak handshakes %d", got)
	}
	if got := first.Stats.Summaries()["Enroll"].Calls; got != n {
		t.Errorf("Enroll calls recorded: %d", got)
	}
	if got := srv.count(func() int { return len(srv.sources) }); got != 3 {
		t.Errorf("check-ins came from %d source addresses, want 3", got)
	}

	// boot alone: loads the fleet first.
	again := New(opts)
	if started, err := again.Boot(0); started != n || err != nil {
		t.Fatalf("boot on a kept state root: %d started: %v", started, err)
	}
	waitUntil(t, "check-ins after reuse", func() bool { return again.CheckedIn.Load() == n })
	stop(t, again)

	// load, then boot.
	third := New(opts)
	if failures, err := third.Prepare(""); failures != 0 || err != nil {
		t.Fatalf("load: %d failed: %v", failures, err)
	}
	if started, err := third.Boot(0); started != n || err != nil {
		t.Fatalf("boot after load: %d started: %v", started, err)
	}
	waitUntil(t, "check-ins after load", func() bool { return third.CheckedIn.Load() == n })
	stop(t, third)

	if got := srv.count(func() int { return srv.enrolls }); got != n {
		t.Errorf("%d enrollments, want %d (a kept fleet must not enroll again)", got, n)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.checkIns) != n {
		t.Errorf("%d endpoints checked in, want %d", len(srv.checkIns), n)
	}
	for id, c := range srv.checkIns {
		if c != 3 {
			t.Errorf("%s checked in %d times, want 3 (one per boot)", id, c)
		}
	}
}

func TestLoadingAnEmptyStateRootFailsForEveryAgent(t *testing.T) {
	srv, addr := startFakeServer(t, false)
	f := New(testOptions(addr, srv.pki.CAPEM, t.TempDir(), 3))
	failures, err := f.Prepare("")
	if failures != 3 || err == nil || !strings.Contains(err.Error(), "run the enroll phase first") {
		t.Fatalf("%d failed: %v", failures, err)
	}
	if started, err := New(testOptions(addr, srv.pki.CAPEM, t.TempDir(), 3)).Boot(0); started != 0 || err == nil {
		t.Errorf("boot of an empty state root: %d started, %v", started, err)
	}
}

// Every agent crashes in its first step (the journal says STARTED), is
// restarted, runs the job again, reports it once, reboots when told (a new
// connection: a new first check-in) and waits for work.
func TestCrashedAgentsRestartAndResumeAndRebootedOnesReconnect(t *testing.T) {
	srv, addr := startFakeServer(t, true)
	const n = 4
	opts := testOptions(addr, srv.pki.CAPEM, t.TempDir(), n)
	opts.CrashPct = 100
	f := New(opts)
	if failures, err := f.Prepare(testToken); failures != 0 {
		t.Fatalf("enroll: %v", err)
	}
	f.Stats.Reset()
	f.FirstCheckIns.Start(time.Now())
	if started, _ := f.Boot(0); started != n {
		t.Fatalf("started %d", started)
	}
	waitUntil(t, "reboots", func() bool { return f.Reboots.Load() == n })
	// boot + restart after the crash + after the reboot
	waitUntil(t, "check-ins after the reboots", func() bool { return f.Stats.Summaries()["CheckIn"].Calls == 3*n })
	stop(t, f)
	if f.Crashes.Load() != n || f.StepsRun.Load() != n || f.CheckedIn.Load() != n || f.Lost.Load() != 0 {
		t.Errorf("crashes %d, steps %d, checked in %d, lost %d", f.Crashes.Load(), f.StepsRun.Load(),
			f.CheckedIn.Load(), f.Lost.Load())
	}
	s := f.Stats.Summaries()
	if s["WaitForWork (job)"].Calls != 2*n || s["WaitForWork (reboot)"].Calls != n || s["ReportResult"].Calls != n {
		t.Errorf("RPCs: %v", s)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for id, c := range srv.reported {
		if c != 1 || srv.jobsGiven[id] != 2 {
			t.Errorf("%s: job given %d times, reported %d times", id, srv.jobsGiven[id], c)
		}
	}
}

func TestHungAgentsNeverReportAndStopPromptly(t *testing.T) {
	srv, addr := startFakeServer(t, true)
	const n = 3
	opts := testOptions(addr, srv.pki.CAPEM, t.TempDir(), n)
	opts.HangPct = 100
	f := New(opts)
	if failures, err := f.Prepare(testToken); failures != 0 {
		t.Fatalf("enroll: %v", err)
	}
	f.Boot(0)
	waitUntil(t, "hangs", func() bool { return f.Hung.Load() == n })
	time.Sleep(200 * time.Millisecond)
	stop(t, f)
	if got := srv.count(func() int { return len(srv.reported) }); got != 0 {
		t.Errorf("%d hung agents reported", got)
	}
	// Killed while hung: the journal still says STARTED.
	data, err := os.ReadFile(filepath.Join(opts.StateRoot, "agent-00000", "journal"))
	j := &pb.Journal{}
	if err == nil {
		err = proto.Unmarshal(data, j)
	}
	if err != nil || j.GetPhase() != pb.Journal_PHASE_STARTED {
		t.Errorf("journal: %v, %v", j, err)
	}
}

func TestMachinesLostInAReboot(t *testing.T) {
	srv, addr := startFakeServer(t, true)
	const n = 3
	opts := testOptions(addr, srv.pki.CAPEM, t.TempDir(), n)
	opts.LostRebootPct = 100
	f := New(opts)
	if failures, err := f.Prepare(testToken); failures != 0 {
		t.Fatalf("enroll: %v", err)
	}
	f.Boot(0)
	waitUntil(t, "lost machines", func() bool { return f.Lost.Load() == n })
	stop(t, f)
	if f.Reboots.Load() != n {
		t.Errorf("reboots %d", f.Reboots.Load())
	}
	// A later run finds them down: they never boot.
	if started, err := New(opts).Boot(0); started != 0 || err != nil {
		t.Errorf("lost machines booted again: %d, %v", started, err)
	}
}
