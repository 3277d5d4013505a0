package windows

import (
	"fmt"
	"syscall"
)

// The calls the standard library's syscall package lacks, loaded on first
// use. All exist on Windows 7 SP1 and Server 2008 R2 SP1.
var (
	kernel32 = syscall.NewLazyDLL("kernel32.dll")
	advapi32 = syscall.NewLazyDLL("advapi32.dll")
	ntdll    = syscall.NewLazyDLL("ntdll.dll")
	winhttp  = syscall.NewLazyDLL("winhttp.dll")

	procIsWow64Process             = kernel32.NewProc("IsWow64Process")
	procGetNativeSystemInfo        = kernel32.NewProc("GetNativeSystemInfo")
	procGetSystemWindowsDirectoryW = kernel32.NewProc("GetSystemWindowsDirectoryW")
	procCreateJobObjectW           = kernel32.NewProc("CreateJobObjectW")
	procSetInformationJobObject    = kernel32.NewProc("SetInformationJobObject")
	procAssignProcessToJobObject   = kernel32.NewProc("AssignProcessToJobObject")
	procTerminateJobObject         = kernel32.NewProc("TerminateJobObject")
	procOpenThread                 = kernel32.NewProc("OpenThread")
	procResumeThread               = kernel32.NewProc("ResumeThread")
	procThread32First              = kernel32.NewProc("Thread32First")
	procThread32Next               = kernel32.NewProc("Thread32Next")
	procMultiByteToWideChar        = kernel32.NewProc("MultiByteToWideChar")
	procRtlGetVersion              = ntdll.NewProc("RtlGetVersion")
	procOpenSCManagerW             = advapi32.NewProc("OpenSCManagerW")
	procOpenServiceW               = advapi32.NewProc("OpenServiceW")
	procQueryServiceStatus         = advapi32.NewProc("QueryServiceStatus")
	procCloseServiceHandle         = advapi32.NewProc("CloseServiceHandle")
	procRegCreateKeyExW            = advapi32.NewProc("RegCreateKeyExW")
	procRegSetValueExW             = advapi32.NewProc("RegSetValueExW")
	procRegDeleteValueW            = advapi32.NewProc("RegDeleteValueW")
	procRegDeleteKeyExW            = advapi32.NewProc("RegDeleteKeyExW")
	procLookupPrivilegeValueW      = advapi32.NewProc("LookupPrivilegeValueW")
	procAdjustTokenPrivileges      = advapi32.NewProc("AdjustTokenPrivileges")
	procInitiateSystemShutdownExW  = advapi32.NewProc("InitiateSystemShutdownExW")
	procWinHttpOpen                = winhttp.NewProc("WinHttpOpen")
	procWinHttpConnect             = winhttp.NewProc("WinHttpConnect")
	procWinHttpOpenRequest         = winhttp.NewProc("WinHttpOpenRequest")
	procWinHttpSendRequest         = winhttp.NewProc("WinHttpSendRequest")
	procWinHttpReceiveResponse     = winhttp.NewProc("WinHttpReceiveResponse")
	procWinHttpQueryHeaders        = winhttp.NewProc("WinHttpQueryHeaders")
	procWinHttpQueryOption         = winhttp.NewProc("WinHttpQueryOption")
	procWinHttpSetOption           = winhttp.NewProc("WinHttpSetOption")
	procWinHttpSetTimeouts         = winhttp.NewProc("WinHttpSetTimeouts")
	procWinHttpCloseHandle         = winhttp.NewProc("WinHttpCloseHandle")
)

// need loads procs before a mechanism uses them, so that a Windows
// without one fails the step naming it instead of panicking.
func need(procs ...*syscall.LazyProc) error {
	for _, p := range procs {
		if err := p.Find(); err != nil {
			return fmt.Errorf("this Windows lacks %s: %v", p.Name, err)
		}
	}
	return nil
}

// lastError is the Win32 error a failed Call reports. Pointers are passed
// to Call itself, converted in its argument list: only there does the
// compiler keep what they point to alive and in place.
func lastError(err error) error {
	if errno, ok := err.(syscall.Errno); ok && errno != 0 {
		return errno
	}
	return syscall.EINVAL
}

// statusError is the error of a call that returns its error code
// (registry, ntdll status): zero is success.
func statusError(r uintptr) error {
	if r != 0 {
		return syscall.Errno(r)
	}
	return nil
}

// utf16Ptr is s for a Win32 call; a NUL inside is refused, as no Windows
// name holds one (and truncating it would name something else).
func utf16Ptr(s string) (*uint16, error) {
	p, err := syscall.UTF16PtrFromString(s)
	if err != nil {
		return nil, fmt.Errorf("%q holds a NUL character", s)
	}
	return p, nil
}

func boolArg(b bool) uintptr {
	if b {
		return 1
	}
	return 0
}
