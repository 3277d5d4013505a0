// purser-fleetsim: a fleet of simulated Windows endpoints in one process,
// each running the real agent's loop, against a real purser-server. Enrolls
// the fleet, boots it (a storm, or with splay), lets it idle, runs an
// onboarding campaign with the default plan, and prints per-RPC throughput
// and latency and the server's own figures. Lines starting with "figure "
// are for scripts: "figure <name> <value>".
//
// --phases=bare-storm instead runs the bare mTLS storm against the bench
// echo server (--echo_server, --echo_server_pid; --ca, --cert, --key of its
// PKI), with the same client stack.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"purser/fleetsim"
	"purser/fleetsim/storm"
)

func main() {
	cfg, err := fleetsim.ParseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "purser-fleetsim: %v\n", err)
		os.Exit(2)
	}
	if cfg.Phases == "bare-storm" {
		os.Exit(bareStorm(cfg))
	}
	os.Exit(fleetsim.Run(cfg, os.Stdout, os.Stderr))
}

func bareStorm(cfg *fleetsim.Config) int {
	if cfg.EchoServer == "" {
		fmt.Fprintln(os.Stderr, "purser-fleetsim: --phases=bare-storm needs --echo_server")
		return 2
	}
	var pems [3][]byte
	for i, path := range []string{cfg.CA, cfg.Cert, cfg.Key} {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "purser-fleetsim: %v\n", err)
			return 2
		}
		pems[i] = b
	}
	return storm.Run(storm.Options{Server: cfg.EchoServer, CAPEM: pems[0], CertPEM: pems[1], KeyPEM: pems[2],
		Connections: cfg.Agents, SourceIPs: cfg.SourceIPs, ServerPID: cfg.EchoServerPID}, os.Stdout, os.Stderr)
}
