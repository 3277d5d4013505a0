//go:build !windows

package main

import "purser/client/agent"

const platformUsage = ""

func defaultStateDir() string { return "" }
func defaultExecutor() string { return "sim" }

// platformCommand: subcommands exist only on Windows (install, uninstall, service).
func platformCommand(args []string) (handled bool, code int) { return false, 0 }

func windowsExecutor(*config) (agent.Executor, error) {
	return nil, fail(2, "--executor=windows runs only on Windows")
}
