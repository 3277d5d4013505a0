//go:build windows

// Command standin plays, inside a Wine prefix, the Windows tools and the
// Microsoft software that the Purser agent drives, for the end-to-end test
// tests/integration/wine_onboarding_test.cc. It is one executable installed
// under each tool's name, at the tool's own path; it acts the one it is
// named after (lower case):
//
//	wusa.exe              C:\Windows\System32: the Windows Update Standalone
//	                      Installer (updates.go)
//	trustedinstaller.exe  C:\Windows\servicing: servicing's work at a restart,
//	                      which takes staged updates into effect (updates.go)
//	mmasetup-amd64.exe    MMA's IExpress package: /c /t:<dir> unpacks setup.exe
//	setup.exe             MMA's installer (mma.go)
//	powershell.exe        C:\Windows\System32\WindowsPowerShell\v1.0: runs the
//	                      agent's AgentConfigManager.MgmtSvcCfg scripts (mma.go)
//	netsh.exe             C:\Windows\System32: netsh winhttp (netsh.go)
//	healthservice.exe     the HealthService service (MMA), installed by setup.exe
//	mssenses.exe          the Sense service (the Defender for Endpoint sensor)
//	purser-shutdown.exe   the test's restart, acted: stops the services named
//	                      (service.go)
//
// Every start appends one JSON line to C:\purser-standin\calls.log: the tool,
// its raw command line (GetCommandLineW), that line split as the C runtime
// splits it, and the process id; events without a command line of their own
// (a service control received, updates taking effect) add a note.
//
// The machine's state is kept where Windows keeps it, so that the agent's
// own reads (the servicing store, the Uninstall key, the service control
// manager, files) see it: see updates.go and mma.go. What the real programs
// keep in their own formats (MMA's workspaces) is kept under
// HKLM\SOFTWARE\Purser\WineStandIn.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const (
	callsLog = `C:\purser-standin\calls.log`
	stateKey = `SOFTWARE\Purser\WineStandIn`
)

var tools = map[string]func(args []string) int{
	"wusa.exe":             wusa,
	"trustedinstaller.exe": finishUpdates,
	"mmasetup-amd64.exe":   mmaExtract,
	"setup.exe":            mmaSetup,
	"powershell.exe":       powerShell,
	"netsh.exe":            netsh,
	"healthservice.exe":    func([]string) int { return runService(healthServiceName, nil) },
	"mssenses.exe":         func([]string) int { return runService(senseName, senseCanRun) },
	"purser-shutdown.exe":  shutdownServices,
}

func main() {
	name := strings.ToLower(filepath.Base(os.Args[0]))
	tool, ok := tools[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "standin: %s is not a tool this stand-in plays\n", name)
		os.Exit(2)
	}
	record("")
	os.Exit(tool(os.Args[1:]))
}

// toolName is the tool this process plays.
func toolName() string { return strings.ToLower(filepath.Base(os.Args[0])) }

type callRecord struct {
	Tool    string   `json:"tool"`
	CmdLine string   `json:"cmdline"`
	Argv    []string `json:"argv"`
	PID     int      `json:"pid"`
	Note    string   `json:"note,omitempty"`
	Time    string   `json:"time"`
}

func rawCommandLine() string {
	return syscall.UTF16ToString((*[32768]uint16)(unsafe.Pointer(syscall.GetCommandLine()))[:])
}

// record appends this process's command line, with note, to the calls log.
// A named mutex keeps the lines of processes running at once whole.
func record(note string) {
	raw := rawCommandLine()
	rec, _ := json.Marshal(callRecord{Tool: toolName(), CmdLine: raw, Argv: splitCommandLine(raw),
		PID: os.Getpid(), Note: note, Time: time.Now().UTC().Format(time.RFC3339Nano)})
	unlock := lockNamed("PurserStandinCallsLog")
	defer unlock()
	os.MkdirAll(filepath.Dir(callsLog), 0o755)
	f, err := os.OpenFile(callsLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "standin: %v\n", err)
		return
	}
	defer f.Close()
	f.Write(append(rec, '\r', '\n'))
}

// notef records an event of this process and prints it, as the tool's
// output.
func notef(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	fmt.Println(msg)
	record(msg)
}

// splitCommandLine splits a command line as CommandLineToArgvW does.
func splitCommandLine(cmd string) []string {
	p, err := syscall.UTF16PtrFromString(cmd)
	if err != nil {
		return nil
	}
	var n int32
	argv, err := syscall.CommandLineToArgv(p, &n)
	if err != nil {
		return nil
	}
	defer syscall.LocalFree(syscall.Handle(uintptr(unsafe.Pointer(argv))))
	out := make([]string, n)
	for i := range out {
		out[i] = syscall.UTF16ToString((*argv[i])[:])
	}
	return out
}

// hresult is a Windows exit code written as the HRESULT it is.
func hresult(code uint32) int { return int(int32(code)) }
