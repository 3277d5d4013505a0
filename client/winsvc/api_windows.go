package winsvc

import (
	"fmt"
	"syscall"
	"unsafe"
)

// The Win32 calls the standard library's syscall package lacks (there is no
// golang.org/x/sys/windows in this build). All exist on Windows 7 / 2008 R2.
var (
	advapi32 = syscall.NewLazyDLL("advapi32.dll")
	kernel32 = syscall.NewLazyDLL("kernel32.dll")

	procStartServiceCtrlDispatcherW   = advapi32.NewProc("StartServiceCtrlDispatcherW")
	procRegisterServiceCtrlHandlerExW = advapi32.NewProc("RegisterServiceCtrlHandlerExW")
	procSetServiceStatus              = advapi32.NewProc("SetServiceStatus")
	procOpenSCManagerW                = advapi32.NewProc("OpenSCManagerW")
	procOpenServiceW                  = advapi32.NewProc("OpenServiceW")
	procCreateServiceW                = advapi32.NewProc("CreateServiceW")
	procChangeServiceConfigW          = advapi32.NewProc("ChangeServiceConfigW")
	procChangeServiceConfig2W         = advapi32.NewProc("ChangeServiceConfig2W")
	procStartServiceW                 = advapi32.NewProc("StartServiceW")
	procControlService                = advapi32.NewProc("ControlService")
	procQueryServiceStatusEx          = advapi32.NewProc("QueryServiceStatusEx")
	procDeleteService                 = advapi32.NewProc("DeleteService")
	procCloseServiceHandle            = advapi32.NewProc("CloseServiceHandle")

	procRegisterEventSourceW    = advapi32.NewProc("RegisterEventSourceW")
	procDeregisterEventSource   = advapi32.NewProc("DeregisterEventSource")
	procReportEventW            = advapi32.NewProc("ReportEventW")
	procRegCreateKeyExW         = advapi32.NewProc("RegCreateKeyExW")
	procRegSetValueExW          = advapi32.NewProc("RegSetValueExW")
	procRegDeleteKeyExW         = advapi32.NewProc("RegDeleteKeyExW")
	procConvertStringSDToSDW    = advapi32.NewProc("ConvertStringSecurityDescriptorToSecurityDescriptorW")
	procConvertSDToStringSDW    = advapi32.NewProc("ConvertSecurityDescriptorToStringSecurityDescriptorW")
	procGetSecurityDescriptorD  = advapi32.NewProc("GetSecurityDescriptorDacl")
	procGetSecurityDescriptorO  = advapi32.NewProc("GetSecurityDescriptorOwner")
	procSetKernelObjectSecurity = advapi32.NewProc("SetKernelObjectSecurity")
	procGetNamedSecurityInfoW   = advapi32.NewProc("GetNamedSecurityInfoW")
	procLookupPrivilegeValueW   = advapi32.NewProc("LookupPrivilegeValueW")
	procAdjustTokenPrivileges   = advapi32.NewProc("AdjustTokenPrivileges")

	procSetStdHandle  = kernel32.NewProc("SetStdHandle")
	procGetDriveTypeW = kernel32.NewProc("GetDriveTypeW")
)

// Service types, states, controls and errors (winsvc.h, winerror.h).
const (
	serviceWin32OwnProcess = 0x10
	serviceAutoStart       = 2
	serviceErrorNormal     = 1

	serviceStopped         = 1
	serviceStartPending    = 2
	serviceStopPending     = 3
	serviceRunning         = 4
	serviceContinuePending = 5
	servicePausePending    = 6
	servicePaused          = 7

	serviceAcceptStop     = 1
	serviceAcceptShutdown = 4

	serviceControlStop        = 1
	serviceControlInterrogate = 4
	serviceControlShutdown    = 5

	serviceConfigDescription       = 1
	serviceConfigFailureActions    = 2
	serviceConfigFailureActionsFlg = 4
	scActionRestart                = 1
	scStatusProcessInfo            = 0

	scManagerConnect      = 0x0001
	scManagerCreateSvc    = 0x0002
	serviceAllAccess      = 0xf01ff
	serviceQueryStatus    = 0x0004
	serviceStop           = 0x0020
	deleteAccess          = 0x00010000
	synchronize           = 0x00100000
	stdErrorHandle        = ^uint32(11) + 1 // STD_ERROR_HANDLE, (DWORD)-12
	driveRemote           = 4
	errServiceSpecific    = 1066 // ERROR_SERVICE_SPECIFIC_ERROR
	errNoDispatcherParent = 1063 // ERROR_FAILED_SERVICE_CONTROLLER_CONNECT
	errServiceNotExist    = 1060
	errServiceNotActive   = 1062
	errServiceCannotCtrl  = 1061
	errServiceMarkedDel   = 1072
	errServiceAlreadyRuns = 1056
	errCallNotImplemented = 120
	errFileNotFound       = 2
)

// serviceStatus is SERVICE_STATUS.
type serviceStatus struct {
	ServiceType, CurrentState, ControlsAccepted, Win32ExitCode,
	ServiceSpecificExitCode, CheckPoint, WaitHint uint32
}

// serviceStatusProcess is SERVICE_STATUS_PROCESS.
type serviceStatusProcess struct {
	serviceStatus
	ProcessID, ServiceFlags uint32
}

// serviceTableEntry is SERVICE_TABLE_ENTRYW.
type serviceTableEntry struct {
	name *uint16
	proc uintptr
}

// serviceFailureActions is SERVICE_FAILURE_ACTIONSW; scAction is SC_ACTION.
type serviceFailureActions struct {
	ResetPeriod uint32
	RebootMsg   *uint16
	Command     *uint16
	ActionsLen  uint32
	Actions     *scAction
}

type scAction struct{ Type, Delay uint32 }

// call runs a Win32 function that returns a BOOL or handle, 0 meaning
// failure with the error in GetLastError.
func call(p *syscall.LazyProc, args ...uintptr) (uintptr, error) {
	r, _, err := p.Call(args...)
	if r == 0 {
		if errno, ok := err.(syscall.Errno); ok && errno != 0 {
			return 0, errno
		}
		return 0, syscall.EINVAL
	}
	return r, nil
}

// callStatus runs a Win32 function that returns its error code (registry,
// security info functions), 0 meaning success.
func callStatus(p *syscall.LazyProc, args ...uintptr) error {
	r, _, _ := p.Call(args...)
	if r != 0 {
		return syscall.Errno(r)
	}
	return nil
}

// utf16 is s for a W function; a NUL inside is refused, as no Windows
// name, path or command line holds one (and cutting it there would name
// something else). Text that may hold one (a message) is cleaned first.
func utf16(s string) (*uint16, error) {
	p, err := syscall.UTF16PtrFromString(s)
	if err != nil {
		return nil, fmt.Errorf("%q holds a NUL character", s)
	}
	return p, nil
}

// utf16s converts each of ss with utf16.
func utf16s(ss ...string) ([]*uint16, error) {
	out := make([]*uint16, len(ss))
	for i, s := range ss {
		p, err := utf16(s)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func ptr(p *uint16) uintptr { return uintptr(unsafe.Pointer(p)) }
