//go:build windows

package main

import (
	"path/filepath"

	"purser/client/agent"
	"purser/client/agentlog"
	"purser/client/windows"
)

// windowsExecutor is this machine, for --executor=windows. Packages unpack
// under the state directory, which only SYSTEM and Administrators can read.
func windowsExecutor(c *config) (agent.Executor, error) {
	return windows.New(windows.Options{
		WorkDir: filepath.Join(c.stateDir, "work"),
		Log:     agentlog.Logger{Prefix: "agent: "},
	}), nil
}
