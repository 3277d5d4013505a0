//go:build windows

package main

import (
	"purser/client/agent"
	"purser/client/windows"
)

// windowsExecutor is this machine, for --executor=windows.
func windowsExecutor() (agent.Executor, error) { return windows.New(windows.Options{}), nil }
