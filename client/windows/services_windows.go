package windows

import (
	"fmt"
	"syscall"
	"unsafe"

	pb "purserpb/v1"
)

const (
	scManagerConnect       = 0x0001
	serviceQueryStatus     = 0x0004
	errServiceDoesNotExist = syscall.Errno(1060)
)

// queryService asks the service control manager for a service's state,
// with the least access that answers (what sc query does).
func queryService(name string) (serviceState, error) {
	if err := need(procOpenSCManagerW, procOpenServiceW, procQueryServiceStatus, procCloseServiceHandle); err != nil {
		return serviceState{}, err
	}
	n, err := utf16Ptr(name)
	if err != nil {
		return serviceState{}, fmt.Errorf("service name: %v", err)
	}
	scm, _, e := procOpenSCManagerW.Call(0, 0, scManagerConnect)
	if scm == 0 {
		return serviceState{}, fmt.Errorf("cannot open the service control manager: %v", lastError(e))
	}
	defer procCloseServiceHandle.Call(scm)
	svc, _, e := procOpenServiceW.Call(scm, uintptr(unsafe.Pointer(n)), serviceQueryStatus)
	if svc == 0 {
		if lastError(e) == errServiceDoesNotExist {
			return serviceState{Status: pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED}, nil
		}
		return serviceState{}, fmt.Errorf("cannot open service %s: %v", name, lastError(e))
	}
	defer procCloseServiceHandle.Call(svc)
	var status [7]uint32 // SERVICE_STATUS; dwCurrentState second
	r, _, e := procQueryServiceStatus.Call(svc, uintptr(unsafe.Pointer(&status[0])))
	if r == 0 {
		return serviceState{}, fmt.Errorf("cannot query service %s: %v", name, lastError(e))
	}
	return scmState(status[1]), nil
}
