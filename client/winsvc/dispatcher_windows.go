package winsvc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// ErrNotService is Run's error when the process was not started by the
// service control manager (someone ran "purser-agent service" by hand).
var ErrNotService = errors.New("not started by the service control manager")

// RunFunc does the service's work until ctx is cancelled (the service is
// stopped, or Windows shuts down) and returns the service's exit code, 0 for
// a clean end. A non-zero code makes the service control manager apply the
// recovery actions (restart).
type RunFunc func(ctx context.Context) uint32

const (
	startWaitHint = 10 * time.Second
	stopWaitHint  = 10 * time.Second
	// stopGrace: past it the service reports STOPPED anyway; Windows
	// gives services about 20 s at shutdown.
	stopGrace = 25 * time.Second
)

// One service per process: the callbacks are process-wide.
var (
	callbacksOnce sync.Once
	mainCallback  uintptr
	ctlCallback   uintptr

	theName  *uint16 // the service name, for RegisterServiceCtrlHandlerEx
	theRun   RunFunc
	theErr   error // guarded by statusMu
	stopping = make(chan struct{}, 1)

	statusMu     sync.Mutex
	statusHandle uintptr
	status       serviceStatus
)

// Run runs the process as the service name: it returns once the service has
// stopped, or ErrNotService when the process was not started by the service
// control manager.
func Run(name string, run RunFunc) error {
	callbacksOnce.Do(func() {
		mainCallback = syscall.NewCallback(serviceMain)
		ctlCallback = syscall.NewCallback(controlHandler)
	})
	n, err := utf16(name)
	if err != nil {
		return err
	}
	theName, theRun = n, run
	table := []serviceTableEntry{{n, mainCallback}, {nil, 0}}
	// Blocks until the service stopped; serviceMain runs on a thread of the
	// dispatcher's, controlHandler on this one.
	if _, err := call(procStartServiceCtrlDispatcherW, uintptr(unsafe.Pointer(&table[0]))); err != nil {
		if err == syscall.Errno(errNoDispatcherParent) {
			return ErrNotService
		}
		return fmt.Errorf("StartServiceCtrlDispatcher: %w", err)
	}
	statusMu.Lock()
	defer statusMu.Unlock()
	return theErr
}

func serviceMain(argc, argv uintptr) uintptr {
	h, err := call(procRegisterServiceCtrlHandlerExW, ptr(theName), ctlCallback, 0)
	if err != nil {
		recordErr(fmt.Errorf("RegisterServiceCtrlHandlerEx: %w", err))
		return 0
	}
	statusHandle = h
	setStatus(serviceStartPending, 0, startWaitHint)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan uint32, 1)
	go func() { done <- theRun(ctx) }()
	setStatus(serviceRunning, 0, 0)

	var code uint32
	select {
	case code = <-done: // the work ended by itself
	case <-stopping:
		setStatus(serviceStopPending, 0, stopWaitHint)
		cancel()
		// Asked to stop: a clean stop whatever the work returns, or the
		// recovery actions would restart a service the administrator stopped.
		if !waitStopped(done) {
			recordErr(fmt.Errorf("the service's work did not end within %v of the stop request", stopGrace))
		}
	}
	setStatus(serviceStopped, code, 0)
	return 0
}

// waitStopped waits for the work to end, telling the service control
// manager it progresses meanwhile; false when it did not end in time.
func waitStopped(done <-chan uint32) bool {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	deadline := time.After(stopGrace)
	for {
		select {
		case <-done:
			return true
		case <-tick.C:
			setStatus(serviceStopPending, 0, stopWaitHint)
		case <-deadline:
			return false
		}
	}
}

// controlHandler is the HandlerEx the control manager calls: it must not
// block.
func controlHandler(control, eventType, eventData, context uintptr) uintptr {
	switch uint32(control) {
	case serviceControlStop, serviceControlShutdown:
		select {
		case stopping <- struct{}{}:
		default: // already asked
		}
		return 0
	case serviceControlInterrogate:
		return 0 // the control manager has the last status reported
	}
	return errCallNotImplemented
}

// setStatus reports state; pending states advance the checkpoint so the
// control manager sees progress within waitHint.
func setStatus(state, exitCode uint32, waitHint time.Duration) {
	statusMu.Lock()
	defer statusMu.Unlock()
	s := &status
	s.ServiceType = serviceWin32OwnProcess
	s.CurrentState = state
	s.ControlsAccepted = 0
	if state == serviceRunning {
		s.ControlsAccepted = serviceAcceptStop | serviceAcceptShutdown
	}
	if state == serviceStartPending || state == serviceStopPending {
		s.CheckPoint++
	} else {
		s.CheckPoint = 0
	}
	s.WaitHint = uint32(waitHint / time.Millisecond)
	s.Win32ExitCode, s.ServiceSpecificExitCode = 0, 0
	if exitCode != 0 {
		s.Win32ExitCode, s.ServiceSpecificExitCode = errServiceSpecific, exitCode
	}
	if _, err := call(procSetServiceStatus, statusHandle, uintptr(unsafe.Pointer(s))); err != nil && theErr == nil {
		theErr = fmt.Errorf("SetServiceStatus(%d): %w", state, err)
	}
}

// recordErr keeps the first error for Run to return.
func recordErr(err error) {
	statusMu.Lock()
	defer statusMu.Unlock()
	if theErr == nil {
		theErr = err
	}
}
