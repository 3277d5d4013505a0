package winsvc

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"
)

// ServiceSpec is the service Install registers.
type ServiceSpec struct {
	Name, DisplayName, Description string
	// CommandLine is the quoted executable and its arguments.
	CommandLine string
}

// Recovery: restart after a minute, twice, then every 5 minutes; the count
// resets after a day without failure.
var recoveryActions = []scAction{
	{scActionRestart, 60 * 1000}, {scActionRestart, 60 * 1000}, {scActionRestart, 5 * 60 * 1000},
}

const recoveryResetSeconds = 24 * 60 * 60

func openSCM(access uint32) (uintptr, error) {
	h, err := call(procOpenSCManagerW, 0, 0, uintptr(access))
	if err != nil {
		return 0, fmt.Errorf("cannot open the service control manager (run as an administrator): %w", err)
	}
	return h, nil
}

// CheckAdmin fails unless this process may create services: install and
// uninstall need an elevated administrator (or LocalSystem, as msiexec
// runs them).
func CheckAdmin() error {
	scm, err := openSCM(scManagerConnect | scManagerCreateSvc)
	if err != nil {
		return err
	}
	closeServiceHandle(scm)
	return nil
}

func closeServiceHandle(h uintptr) { procCloseServiceHandle.Call(h) }

// openService opens name; exists is false when there is no such service.
func openService(scm uintptr, name string, access uint32) (h uintptr, exists bool, err error) {
	n, err := utf16(name)
	if err != nil {
		return 0, false, err
	}
	h, err = call(procOpenServiceW, scm, ptr(n), uintptr(access))
	if err == syscall.Errno(errServiceNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cannot open service %s: %w", name, err)
	}
	return h, true, nil
}

// InstallService creates the service, or reconfigures it when it exists
// (reinstall, upgrade): own process, LocalSystem, automatic start,
// description, restart on failure. warnf reports what this Windows does
// not support.
func InstallService(s ServiceSpec, warnf func(format string, args ...interface{})) (created bool, err error) {
	scm, err := openSCM(scManagerConnect | scManagerCreateSvc)
	if err != nil {
		return false, err
	}
	defer closeServiceHandle(scm)
	str, err := utf16s(s.CommandLine, s.DisplayName, s.Description, "LocalSystem", "")
	if err != nil {
		return false, err
	}
	cmdLine, displayName, description, localSystem, noPassword := str[0], str[1], str[2], str[3], str[4]
	h, exists, err := openService(scm, s.Name, serviceAllAccess)
	if err != nil {
		return false, err
	}
	if exists {
		defer closeServiceHandle(h)
		if _, err := call(procChangeServiceConfigW, h, serviceWin32OwnProcess, serviceAutoStart,
			serviceErrorNormal, ptr(cmdLine), 0, 0, 0, ptr(localSystem), ptr(noPassword),
			ptr(displayName)); err != nil {
			return false, fmt.Errorf("cannot reconfigure service %s: %w", s.Name, err)
		}
	} else {
		if h, err = createService(scm, s); err != nil {
			return false, err
		}
		defer closeServiceHandle(h)
	}
	desc := struct{ text *uint16 }{description}
	if _, err := call(procChangeServiceConfig2W, h, serviceConfigDescription, uintptr(unsafe.Pointer(&desc))); err != nil {
		return !exists, fmt.Errorf("cannot set the description of service %s: %w", s.Name, err)
	}
	return !exists, setRecovery(h, s.Name, warnf)
}

// createService creates the service, waiting a little when an earlier one
// of that name is still being deleted (an upgrade right after an uninstall).
func createService(scm uintptr, s ServiceSpec) (uintptr, error) {
	str, err := utf16s(s.Name, s.DisplayName, s.CommandLine)
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		h, err := call(procCreateServiceW, scm, ptr(str[0]), ptr(str[1]),
			serviceAllAccess, serviceWin32OwnProcess, serviceAutoStart, serviceErrorNormal,
			ptr(str[2]), 0, 0, 0, 0 /* LocalSystem */, 0)
		if err == nil {
			return h, nil
		}
		if err != syscall.Errno(errServiceMarkedDel) || time.Now().After(deadline) {
			if err == syscall.Errno(errServiceMarkedDel) {
				return 0, fmt.Errorf("service %s is still marked for deletion: close the Services console "+
					"(services.msc) and any program watching the service, then install again", s.Name)
			}
			return 0, fmt.Errorf("cannot create service %s: %w", s.Name, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// setRecovery makes the control manager restart the service when it fails:
// when its process dies, and (Vista and later) when it stops with an error.
func setRecovery(h uintptr, name string, warnf func(string, ...interface{})) error {
	fa := serviceFailureActions{
		ResetPeriod: recoveryResetSeconds,
		ActionsLen:  uint32(len(recoveryActions)),
		Actions:     &recoveryActions[0],
	}
	if _, err := call(procChangeServiceConfig2W, h, serviceConfigFailureActions, uintptr(unsafe.Pointer(&fa))); err != nil {
		return fmt.Errorf("cannot set the recovery actions of service %s: %w", name, err)
	}
	flag := struct{ onNonCrash int32 }{1}
	if _, err := call(procChangeServiceConfig2W, h, serviceConfigFailureActionsFlg, uintptr(unsafe.Pointer(&flag))); err != nil {
		warnf("service %s restarts only when its process dies, not when the agent stops with an error: "+
			"this system refused SERVICE_CONFIG_FAILURE_ACTIONS_FLAG: %v", name, err)
	}
	return nil
}

func queryStatus(h uintptr) (serviceStatusProcess, error) {
	var st serviceStatusProcess
	var needed uint32
	_, err := call(procQueryServiceStatusEx, h, scStatusProcessInfo, uintptr(unsafe.Pointer(&st)),
		unsafe.Sizeof(st), uintptr(unsafe.Pointer(&needed)))
	return st, err
}

// StartService starts the service and waits until it runs, then watches it
// for settle more: an agent that cannot read its configuration stops at
// once, and the installer should say so rather than report success.
func StartService(name string, timeout, settle time.Duration) error {
	scm, err := openSCM(scManagerConnect)
	if err != nil {
		return err
	}
	defer closeServiceHandle(scm)
	h, exists, err := openService(scm, name, serviceAllAccess)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("service %s is not installed", name)
	}
	defer closeServiceHandle(h)
	if _, err := call(procStartServiceW, h, 0, 0); err != nil && err != syscall.Errno(errServiceAlreadyRuns) {
		return fmt.Errorf("cannot start service %s: %w", name, err)
	}
	var running time.Time
	for deadline := time.Now().Add(timeout); ; time.Sleep(250 * time.Millisecond) {
		st, err := queryStatus(h)
		if err != nil {
			return fmt.Errorf("cannot query service %s: %w", name, err)
		}
		switch st.CurrentState {
		case serviceRunning:
			if running.IsZero() {
				running = time.Now()
			}
			if time.Since(running) >= settle {
				return nil
			}
		case serviceStopped:
			return fmt.Errorf("service %s stopped right after starting (%s)", name, exitText(st.serviceStatus))
		}
		if running.IsZero() && time.Now().After(deadline) {
			return fmt.Errorf("service %s did not reach RUNNING within %v (state %s)", name, timeout, StateName(st.CurrentState))
		}
	}
}

// StopService stops the service and waits for its process to exit, so its
// executable can be replaced or deleted; past timeout the process is
// killed. existed is false when there is no such service.
func StopService(name string, timeout time.Duration, warnf func(string, ...interface{})) (existed bool, err error) {
	scm, err := openSCM(scManagerConnect)
	if err != nil {
		return false, err
	}
	defer closeServiceHandle(scm)
	h, exists, err := openService(scm, name, serviceStop|serviceQueryStatus)
	if err != nil || !exists {
		return exists, err
	}
	defer closeServiceHandle(h)
	st, err := queryStatus(h)
	if err != nil {
		return true, fmt.Errorf("cannot query service %s: %w", name, err)
	}
	if st.CurrentState == serviceStopped {
		return true, nil
	}
	var proc syscall.Handle
	if st.ProcessID != 0 {
		// Without it we cannot wait for the exit: stopping still works.
		proc, _ = syscall.OpenProcess(synchronize|syscall.PROCESS_TERMINATE, false, st.ProcessID)
	}
	if proc != 0 {
		defer syscall.CloseHandle(proc)
	}
	var ss serviceStatus
	if _, err := call(procControlService, h, serviceControlStop, uintptr(unsafe.Pointer(&ss))); err != nil &&
		err != syscall.Errno(errServiceNotActive) && err != syscall.Errno(errServiceCannotCtrl) {
		return true, fmt.Errorf("cannot stop service %s: %w", name, err)
	}
	deadline := time.Now().Add(timeout)
	for st.CurrentState != serviceStopped && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		if st, err = queryStatus(h); err != nil {
			return true, fmt.Errorf("cannot query service %s: %w", name, err)
		}
	}
	if proc == 0 {
		if st.CurrentState != serviceStopped {
			return true, fmt.Errorf("service %s did not stop within %v (state %s)", name, timeout, StateName(st.CurrentState))
		}
		return true, nil
	}
	left := time.Until(deadline)
	if left < time.Second {
		left = time.Second
	}
	if ev, _ := syscall.WaitForSingleObject(proc, uint32(left/time.Millisecond)); ev != syscall.WAIT_OBJECT_0 {
		warnf("service %s did not stop within %v (state %s): killing its process %d", name, timeout,
			StateName(st.CurrentState), st.ProcessID)
		if err := syscall.TerminateProcess(proc, 1); err != nil {
			return true, fmt.Errorf("cannot kill process %d of service %s: %w", st.ProcessID, name, err)
		}
		syscall.WaitForSingleObject(proc, 10*1000)
	}
	return true, nil
}

// DeleteService removes the service; existed is false when there was none.
// The control manager deletes it once the last handle to it is closed.
func DeleteService(name string) (existed bool, err error) {
	scm, err := openSCM(scManagerConnect)
	if err != nil {
		return false, err
	}
	defer closeServiceHandle(scm)
	h, exists, err := openService(scm, name, deleteAccess)
	if err != nil || !exists {
		return exists, err
	}
	defer closeServiceHandle(h)
	if _, err := call(procDeleteService, h); err != nil && err != syscall.Errno(errServiceMarkedDel) {
		return true, fmt.Errorf("cannot delete service %s: %w", name, err)
	}
	return true, nil
}

// exitText says how a stopped service ended.
func exitText(st serviceStatus) string {
	switch {
	case st.Win32ExitCode == errServiceSpecific:
		return fmt.Sprintf("agent exit code %d", st.ServiceSpecificExitCode)
	case st.Win32ExitCode != 0:
		return fmt.Sprintf("Windows error %d: %v", st.Win32ExitCode, syscall.Errno(st.Win32ExitCode))
	}
	return "exit code 0"
}

// StateName is a service state as sc query prints it.
func StateName(state uint32) string {
	names := map[uint32]string{serviceStopped: "STOPPED", serviceStartPending: "START_PENDING",
		serviceStopPending: "STOP_PENDING", serviceRunning: "RUNNING", serviceContinuePending: "CONTINUE_PENDING",
		servicePausePending: "PAUSE_PENDING", servicePaused: "PAUSED"}
	if n, ok := names[state]; ok {
		return n
	}
	return fmt.Sprintf("state %d", state)
}
