// Package storm is the bare mTLS boot storm: N fresh connections to the
// bench echo server, one echo call each, all at once, from 127.0.0.1..K, with
// the agent's own client stack (agent.Dialer: grpc-go, the same TLS settings
// and options). The limit a Purser boot storm of the same size compares with.
package storm

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"purser/client/agent"
	"purser/fleetsim"
	"purserpb/bench"
)

// Options of a storm.
type Options struct {
	Server                 string // the echo server, host:port
	CAPEM, CertPEM, KeyPEM []byte // its PKI's CA, a client certificate and key
	Connections, SourceIPs int
	// ServerPID is the echo server's process: its CPU time is read from /proc.
	// 0: not measured (no storm_server_cpu_seconds figure).
	ServerPID int
}

// cpuSeconds is a process's user + system time, from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) end with ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: not a stat line", pid)
	}
	const clockTicks = 100 // USER_HZ: fixed at 100 in Linux's ABI on the architectures we run on
	return float64(utime+stime) / clockTicks, nil
}

// Run runs the storm and prints its line and figures; the exit code is 1
// when any call failed.
func Run(o Options, out, errOut io.Writer) int {
	id := &agent.Identity{CAPEM: o.CAPEM, CertPEM: o.CertPEM, KeyPEM: o.KeyPEM}
	if _, err := agent.TLSConfig(id); err != nil {
		fmt.Fprintf(errOut, "purser-fleetsim: %v\n", err)
		return 2
	}
	ips := o.SourceIPs
	if ips < 1 {
		ips = 1
	}
	cpu0 := 0.0
	if o.ServerPID != 0 {
		var err error
		if cpu0, err = cpuSeconds(o.ServerPID); err != nil {
			fmt.Fprintf(errOut, "purser-fleetsim: echo server: %v\n", err)
			return 2
		}
	}
	var rate fleetsim.RateMeter
	var errors atomic.Int64
	var firstErr atomic.Value
	conns := make([]*grpc.ClientConn, o.Connections)
	var wg sync.WaitGroup
	t0 := time.Now()
	rate.Start(t0)
	for i := 0; i < o.Connections; i++ {
		wg.Add(1)
		// Dialed here, not before t0: grpc-go connects as soon as it dials.
		go func(i int) {
			defer wg.Done()
			d := agent.Dialer{Server: o.Server, SourceIP: fmt.Sprintf("127.0.0.%d", 1+i%ips)}
			conn, err := d.Dial(id)
			if err == nil {
				conns[i] = conn
				ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
				_, err = bench.NewEchoClient(conn).Echo(ctx, &bench.EchoMessage{Payload: []byte("boot")})
				cancel()
			}
			if err != nil {
				errors.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
			rate.Add(time.Now())
		}(i)
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	serverCPU := 0.0
	if o.ServerPID != 0 {
		if cpu1, err := cpuSeconds(o.ServerPID); err == nil {
			serverCPU = cpu1 - cpu0
		}
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	n := o.Connections
	perHandshake := 0.0
	if n > 0 {
		perHandshake = 1000 * serverCPU / float64(n)
	}
	fmt.Fprintf(out, "bare mTLS storm: %d fresh connections, one echo each, all done after %.2f s; peak %d/s; "+
		"%d errors; echo server CPU %.1f s (%.2f ms per handshake)\n", n, secs, rate.PeakPerSecond(),
		errors.Load(), serverCPU, perHandshake)
	fmt.Fprintf(out, "figure storm_seconds %.3f\n", secs)
	if o.ServerPID != 0 {
		fmt.Fprintf(out, "figure storm_server_cpu_seconds %.3f\n", serverCPU)
	}
	if errors.Load() > 0 {
		fmt.Fprintf(errOut, "purser-fleetsim: first error: %v\n", firstErr.Load())
		return 1
	}
	return 0
}
