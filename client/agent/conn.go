package agent

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
	pb "purserpb/v1"
)

// Version is the agent's version, set at build time.
var Version = "dev"

// ServerName is the name every Purser server certificate carries, whatever
// address the agent dials.
const ServerName = "purser-server"

// MaxMessageBytes caps messages both ways, as the server does.
const MaxMessageBytes = 1 << 20

// Dialer opens the agent's connections to the server.
type Dialer struct {
	Server string // host:port
	// SourceIP, when set, is the local address connections come from (the
	// fleet simulator spreads its agents over 127.0.0.x).
	SourceIP string
	// Proxy, when set, is an HTTP proxy (host:port) reached with CONNECT.
	Proxy string
	// Extra options (interceptors that measure calls).
	Extra []grpc.DialOption
}

// TLSConfig trusts only id's CA and presents id's certificate when it has one.
func TLSConfig(id *Identity) (*tls.Config, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(id.CAPEM) {
		return nil, fmt.Errorf("the CA certificate is not PEM")
	}
	cfg := &tls.Config{RootCAs: roots, ServerName: ServerName, MinVersion: tls.VersionTLS12}
	if len(id.CertPEM) > 0 {
		pair, err := tls.X509KeyPair(id.CertPEM, id.KeyPEM)
		if err != nil {
			return nil, fmt.Errorf("agent certificate: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Dial opens a connection as id (without a client certificate before
// enrollment). Calls wait for the connection instead of failing fast, so a
// server back from a restart is used as soon as it listens.
func (d Dialer) Dial(id *Identity) (*grpc.ClientConn, error) {
	cfg, err := TLSConfig(id)
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithContextDialer(d.dialContext),
		grpc.WithDefaultCallOptions(grpc.WaitForReady(true),
			grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		// Long-lived connections: ping idle ones so NATs and dead peers are noticed.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: 60 * time.Second, Timeout: 20 * time.Second, PermitWithoutStream: true}),
		// Reconnects back off with jitter so a fleet that lost the server
		// does not come back as one storm of handshakes.
		// A handshake gets its own 20 s: left at zero, grpc-go would give it
		// only the backoff delay, and a busy server (a boot storm) would see
		// handshakes abandoned and retried.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay: 500 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 10 * time.Second},
			MinConnectTimeout: 20 * time.Second}),
	}
	opts = append(opts, d.Extra...)
	return grpc.Dial(d.Server, opts...)
}

func (d Dialer) dialContext(ctx context.Context, addr string) (net.Conn, error) {
	nd := net.Dialer{}
	if d.SourceIP != "" {
		nd.LocalAddr = &net.TCPAddr{IP: net.ParseIP(d.SourceIP)}
	}
	if d.Proxy == "" {
		return nd.DialContext(ctx, "tcp", addr)
	}
	conn, err := nd.DialContext(ctx, "tcp", d.Proxy)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %v", d.Proxy, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	head, err := readResponseHead(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: %v", d.Proxy, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head)), &http.Request{Method: "CONNECT"})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: %v", d.Proxy, err)
	}
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("proxy %s refused CONNECT %s: %s", d.Proxy, addr, resp.Status)
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

// stamp marks an inventory with who reports it: this installation, its
// version and its own architecture.
func stamp(inv *pb.Inventory, fingerprint string) {
	inv.AgentNonce = fingerprint
	inv.AgentVersion = Version
	inv.AgentArch = pb.Arch_ARCH_X64
	if runtime.GOARCH == "386" {
		inv.AgentArch = pb.Arch_ARCH_X86
	}
}

// readResponseHead reads the proxy's answer up to its blank line, a byte at
// a time: whatever follows belongs to the TLS session and must stay unread.
func readResponseHead(conn net.Conn) (string, error) {
	var head []byte
	b := make([]byte, 1)
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		if len(head) > 16<<10 {
			return "", fmt.Errorf("its answer to CONNECT has no end")
		}
		if _, err := conn.Read(b); err != nil {
			return "", err
		}
		head = append(head, b[0])
	}
	return string(head), nil
}

func cloneInventory(inv *pb.Inventory) *pb.Inventory {
	if inv == nil {
		return &pb.Inventory{}
	}
	return proto.Clone(inv).(*pb.Inventory)
}
