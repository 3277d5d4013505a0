//go:build windows

package main

// Service mode: HealthService and Sense as real services of the service
// control manager, which record the controls they receive (a reboot acted
// out must send SERVICE_CONTROL_SHUTDOWN, as Windows does).

import (
	"sync"
	"syscall"
	"unsafe"
)

var (
	svcName   string
	svcCanRun func() error
	svcHandle uintptr
	svcStatus serviceStatus
	svcMu     sync.Mutex
	svcStop   = make(chan uint32, 1)
)

// runService runs this process as service name; canRun, when set, is
// asked at start: a service whose conditions do not hold stops at once
// with a service-specific exit code, as Sense does without its
// prerequisites.
func runService(name string, canRun func() error) int {
	svcName, svcCanRun = name, canRun
	table := [2]struct {
		name *uint16
		proc uintptr
	}{{u16(name), syscall.NewCallback(serviceMain)}, {}}
	if _, err := call(procStartDispatcherW, uintptr(unsafe.Pointer(&table[0]))); err != nil {
		notef("%s: not started by the service control manager: %v", name, err)
		return 1
	}
	return 0
}

func setStatus(state, specific uint32) {
	svcMu.Lock()
	defer svcMu.Unlock()
	svcStatus = serviceStatus{ServiceType: serviceWin32Own, CurrentState: state}
	if state == serviceRunning {
		svcStatus.ControlsAccepted = 1 | 4 // SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN
	}
	if specific != 0 {
		svcStatus.Win32ExitCode, svcStatus.ServiceSpecificExitCode = errServiceSpecific, specific
	}
	procSetServiceStatus.Call(svcHandle, uintptr(unsafe.Pointer(&svcStatus)))
}

func serviceMain(argc, argv uintptr) uintptr {
	h, err := call(procRegisterHandlerEx, ptr(u16(svcName)), syscall.NewCallback(serviceControl), 0)
	if err != nil {
		notef("%s: RegisterServiceCtrlHandlerEx: %v", svcName, err)
		return 0
	}
	svcHandle = h
	setStatus(serviceStartPending, 0)
	if svcCanRun != nil {
		if err := svcCanRun(); err != nil {
			notef("%s: not starting: %v", svcName, err)
			setStatus(serviceStopped, 1)
			return 0
		}
	}
	setStatus(serviceRunning, 0)
	reportEvent(svcName, "service "+svcName+" started")
	notef("%s: running", svcName)
	c := <-svcStop
	name := "SERVICE_CONTROL_STOP"
	if c == controlShutdown {
		name = "SERVICE_CONTROL_SHUTDOWN"
	}
	notef("%s: %s received, stopping", svcName, name)
	setStatus(serviceStopped, 0)
	return 0
}

// serviceControl is the HandlerEx: it must not block.
func serviceControl(control, eventType, eventData, context uintptr) uintptr {
	switch uint32(control) {
	case controlStop, controlShutdown:
		select {
		case svcStop <- uint32(control):
		default:
		}
		return 0
	case controlInterrogate:
		return 0
	}
	return 120 // ERROR_CALL_NOT_IMPLEMENTED
}

// shutdownServices stops the services named, as a restart of Windows does
// before servicing finishes staged updates. Windows sends them
// SERVICE_CONTROL_SHUTDOWN; Wine never does (it kills service processes
// when its last program ends) and its control manager refuses that control
// from a program, as Windows' does: they get SERVICE_CONTROL_STOP, which
// the agent's service and these stand-ins handle as they handle a shutdown.
func shutdownServices(names []string) int {
	failed := 0
	for _, n := range names {
		switch s := serviceState(n); s {
		case 0:
			notef("restart: service %s does not exist", n)
		case serviceStopped:
			notef("restart: service %s is not running", n)
		default:
			if err := stopService(n); err != nil {
				notef("restart: %v", err)
				failed++
				continue
			}
			notef("restart: service %s stopped", n)
		}
	}
	return failed
}
