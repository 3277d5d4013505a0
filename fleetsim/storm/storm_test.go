package storm

import (
	"bytes"
	"context"
	"net"
	"os"
	"regexp"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"purser/fleetsim/internal/testpki"
	"purserpb/bench"
)

// echo is the bench echo service; it notes where calls come from.
type echo struct {
	bench.UnimplementedEchoServer
	mu      sync.Mutex
	sources map[string]int
}

func (e *echo) Echo(ctx context.Context, m *bench.EchoMessage) (*bench.EchoMessage, error) {
	p, _ := peer.FromContext(ctx)
	e.mu.Lock()
	e.sources[p.Addr.(*net.TCPAddr).IP.String()]++
	e.mu.Unlock()
	return m, nil
}

func TestStormPrintsTheBenchLineAndFigures(t *testing.T) {
	pki, err := testpki.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pki.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	e := &echo{sources: map[string]int{}}
	bench.RegisterEchoServer(srv, e)
	go srv.Serve(lis)
	defer srv.Stop()
	cert, key, err := pki.Pair("client", false)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := Run(Options{Server: lis.Addr().String(), CAPEM: pki.CAPEM, CertPEM: cert, KeyPEM: key,
		Connections: 40, SourceIPs: 4, ServerPID: os.Getpid()}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	want := regexp.MustCompile(`^bare mTLS storm: 40 fresh connections, one echo each, all done after [0-9.]+ s; ` +
		`peak [0-9]+/s; 0 errors; echo server CPU [0-9.]+ s \([0-9.]+ ms per handshake\)
figure storm_seconds [0-9.]+
figure storm_server_cpu_seconds [0-9.]+
$`)
	if !want.MatchString(out.String()) {
		t.Errorf("output:\n%s", out.String())
	}
	if len(e.sources) != 4 || e.sources["127.0.0.4"] != 10 {
		t.Errorf("calls by source address: %v", e.sources)
	}
}

func TestStormWithoutServerPidHasNoCpuFigure(t *testing.T) {
	var out, errOut bytes.Buffer
	pki, _ := testpki.New()
	cert, key, _ := pki.Pair("client", false)
	if code := Run(Options{Server: "127.0.0.1:1", CAPEM: pki.CAPEM, CertPEM: cert, KeyPEM: key}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if bytes.Contains(out.Bytes(), []byte("storm_server_cpu_seconds")) {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestCpuSecondsOfThisProcess(t *testing.T) {
	if _, err := cpuSeconds(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := cpuSeconds(-1); err == nil {
		t.Error("no error for a process that does not exist")
	}
}
