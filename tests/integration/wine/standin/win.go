//go:build windows

package main

// The Win32 calls the stand-in needs, on the standard library's syscall
// package (no golang.org/x/sys/windows in this build). The stand-in is
// 64-bit: it sees the registry's 64-bit view, as the tools it plays do.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"
	"unsafe"
)

var (
	advapi32 = syscall.NewLazyDLL("advapi32.dll")
	kernel32 = syscall.NewLazyDLL("kernel32.dll")
	ntdll    = syscall.NewLazyDLL("ntdll.dll")

	procRegCreateKeyExW   = advapi32.NewProc("RegCreateKeyExW")
	procRegSetValueExW    = advapi32.NewProc("RegSetValueExW")
	procRegDeleteKeyW     = advapi32.NewProc("RegDeleteKeyW")
	procRegDeleteValueW   = advapi32.NewProc("RegDeleteValueW")
	procOpenSCManagerW    = advapi32.NewProc("OpenSCManagerW")
	procOpenServiceW      = advapi32.NewProc("OpenServiceW")
	procCreateServiceW    = advapi32.NewProc("CreateServiceW")
	procStartServiceW     = advapi32.NewProc("StartServiceW")
	procControlService    = advapi32.NewProc("ControlService")
	procQueryServiceStat  = advapi32.NewProc("QueryServiceStatus")
	procCloseServiceHndl  = advapi32.NewProc("CloseServiceHandle")
	procStartDispatcherW  = advapi32.NewProc("StartServiceCtrlDispatcherW")
	procRegisterHandlerEx = advapi32.NewProc("RegisterServiceCtrlHandlerExW")
	procSetServiceStatus  = advapi32.NewProc("SetServiceStatus")
	procRegisterEventSrcW = advapi32.NewProc("RegisterEventSourceW")
	procReportEventW      = advapi32.NewProc("ReportEventW")
	procDeregisterEvtSrc  = advapi32.NewProc("DeregisterEventSource")
	procCreateMutexW      = kernel32.NewProc("CreateMutexW")
	procReleaseMutex      = kernel32.NewProc("ReleaseMutex")
	procGetNativeSysInfo  = kernel32.NewProc("GetNativeSystemInfo")
	procRtlGetVersion     = ntdll.NewProc("RtlGetVersion")
)

const (
	hklm          = syscall.HKEY_LOCAL_MACHINE
	regSZ         = 1
	regDWORD      = 4
	keyWow6464Key = 0x0100
)

func u16(s string) *uint16 {
	p, _ := syscall.UTF16PtrFromString(s)
	return p
}

func ptr(p *uint16) uintptr { return uintptr(unsafe.Pointer(p)) }

// regStatus is a registry function's result as an error.
func regStatus(r uintptr) error {
	if r != 0 {
		return syscall.Errno(r)
	}
	return nil
}

type regKey struct {
	h    syscall.Handle
	path string
}

// createKey opens HKLM\path for writing, creating it when missing.
func createKey(path string) (*regKey, error) {
	var h syscall.Handle
	r, _, _ := procRegCreateKeyExW.Call(uintptr(hklm), ptr(u16(path)), 0, 0, 0,
		syscall.KEY_ALL_ACCESS|keyWow6464Key, 0, uintptr(unsafe.Pointer(&h)), 0)
	if err := regStatus(r); err != nil {
		return nil, fmt.Errorf(`cannot create HKLM\%s: %v`, path, err)
	}
	return &regKey{h, path}, nil
}

// openKey opens HKLM\path to read.
func openKey(path string) (*regKey, error) {
	var h syscall.Handle
	if err := syscall.RegOpenKeyEx(hklm, u16(path), 0, syscall.KEY_READ|keyWow6464Key, &h); err != nil {
		return nil, err
	}
	return &regKey{h, path}, nil
}

func keyExists(path string) bool {
	k, err := openKey(path)
	if err != nil {
		return false
	}
	k.Close()
	return true
}

func (k *regKey) Close() { syscall.RegCloseKey(k.h) }

func (k *regKey) setString(name, value string) error {
	v, _ := syscall.UTF16FromString(value)
	r, _, _ := procRegSetValueExW.Call(uintptr(k.h), ptr(u16(name)), 0, regSZ,
		uintptr(unsafe.Pointer(&v[0])), uintptr(len(v)*2))
	if err := regStatus(r); err != nil {
		return fmt.Errorf(`cannot set HKLM\%s\%s: %v`, k.path, name, err)
	}
	return nil
}

func (k *regKey) setDWORD(name string, value uint32) error {
	r, _, _ := procRegSetValueExW.Call(uintptr(k.h), ptr(u16(name)), 0, regDWORD,
		uintptr(unsafe.Pointer(&value)), 4)
	if err := regStatus(r); err != nil {
		return fmt.Errorf(`cannot set HKLM\%s\%s: %v`, k.path, name, err)
	}
	return nil
}

func (k *regKey) value(name string) (uint32, []byte, error) {
	var typ, n uint32
	if err := syscall.RegQueryValueEx(k.h, u16(name), nil, &typ, nil, &n); err != nil {
		return 0, nil, err
	}
	buf := make([]byte, n+2)
	n = uint32(len(buf))
	if err := syscall.RegQueryValueEx(k.h, u16(name), nil, &typ, &buf[0], &n); err != nil {
		return 0, nil, err
	}
	return typ, buf[:n], nil
}

func (k *regKey) dword(name string) (uint32, error) {
	typ, b, err := k.value(name)
	if err != nil {
		return 0, err
	}
	if typ != regDWORD || len(b) < 4 {
		return 0, fmt.Errorf(`HKLM\%s\%s is not a REG_DWORD`, k.path, name)
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (k *regKey) str(name string) (string, error) {
	_, b, err := k.value(name)
	if err != nil {
		return "", err
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return syscall.UTF16ToString(u), nil
}

func (k *regKey) subkeys() ([]string, error) {
	var out []string
	for i := uint32(0); ; i++ {
		buf := make([]uint16, 256)
		n := uint32(len(buf))
		err := syscall.RegEnumKeyEx(k.h, i, &buf[0], &n, nil, nil, nil, nil)
		if err == syscall.Errno(259) { // ERROR_NO_MORE_ITEMS
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, syscall.UTF16ToString(buf[:n]))
	}
}

// deleteKey deletes HKLM\path and its subkeys; a missing key is no error.
func deleteKey(path string) error {
	if k, err := openKey(path); err == nil {
		subs, _ := k.subkeys()
		k.Close()
		for _, s := range subs {
			if err := deleteKey(path + `\` + s); err != nil {
				return err
			}
		}
	}
	r, _, _ := procRegDeleteKeyW.Call(uintptr(hklm), ptr(u16(path)))
	if err := regStatus(r); err != nil && !errors.Is(err, syscall.ERROR_FILE_NOT_FOUND) {
		return fmt.Errorf(`cannot delete HKLM\%s: %v`, path, err)
	}
	return nil
}

// lockNamed takes a machine-wide named mutex; the returned func releases it.
func lockNamed(name string) func() {
	h, _, _ := procCreateMutexW.Call(0, 0, ptr(u16(name)))
	if h == 0 {
		return func() {}
	}
	syscall.WaitForSingleObject(syscall.Handle(h), 10000)
	return func() {
		procReleaseMutex.Call(h)
		syscall.CloseHandle(syscall.Handle(h))
	}
}

// osVersion is the machine's own version (RtlGetVersion), "6.1".
func osVersion() string {
	var v struct {
		size, major, minor, build, platform uint32
		csd                                 [128]uint16
		spMajor, spMinor, suite             uint16
		productType, reserved               uint8
	}
	v.size = uint32(unsafe.Sizeof(v))
	procRtlGetVersion.Call(uintptr(unsafe.Pointer(&v)))
	return fmt.Sprintf("%d.%d", v.major, v.minor)
}

// machineArch is the machine's own architecture as servicing names it.
func machineArch() string {
	var si [64]byte
	procGetNativeSysInfo.Call(uintptr(unsafe.Pointer(&si[0])))
	switch binary.LittleEndian.Uint16(si[:2]) {
	case 9:
		return "amd64"
	case 0:
		return "x86"
	}
	return "unknown"
}

// Services.

const (
	scManagerAllAccess = 0xf003f
	serviceAllAccess   = 0xf01ff
	serviceWin32Own    = 0x10
	serviceAutoStart   = 2
	serviceErrorNormal = 1

	serviceStopped      = 1
	serviceStartPending = 2
	serviceStopPending  = 3
	serviceRunning      = 4

	controlStop        = 1
	controlInterrogate = 4
	controlShutdown    = 5

	errServiceExists      = syscall.Errno(1073)
	errServiceNotActive   = syscall.Errno(1062)
	errServiceAlreadyRuns = syscall.Errno(1056)
	errServiceDoesNotExit = syscall.Errno(1060)
	errServiceSpecific    = 1066
)

type serviceStatus struct {
	ServiceType, CurrentState, ControlsAccepted, Win32ExitCode,
	ServiceSpecificExitCode, CheckPoint, WaitHint uint32
}

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

func closeService(h uintptr) { procCloseServiceHndl.Call(h) }

// withService runs fn on an open handle of service name.
func withService(name string, fn func(h uintptr) error) error {
	scm, err := call(procOpenSCManagerW, 0, 0, scManagerAllAccess)
	if err != nil {
		return fmt.Errorf("OpenSCManager: %v", err)
	}
	defer closeService(scm)
	h, err := call(procOpenServiceW, scm, ptr(u16(name)), serviceAllAccess)
	if err != nil {
		return err
	}
	defer closeService(h)
	return fn(h)
}

// createService creates an automatically started service running cmdline
// as LocalSystem; an existing one is kept.
func createService(name, display, cmdline string) error {
	scm, err := call(procOpenSCManagerW, 0, 0, scManagerAllAccess)
	if err != nil {
		return fmt.Errorf("OpenSCManager: %v", err)
	}
	defer closeService(scm)
	h, err := call(procCreateServiceW, scm, ptr(u16(name)), ptr(u16(display)), serviceAllAccess,
		serviceWin32Own, serviceAutoStart, serviceErrorNormal, ptr(u16(cmdline)), 0, 0, 0, 0, 0)
	if err == errServiceExists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("CreateService %s: %v", name, err)
	}
	closeService(h)
	return nil
}

// serviceState is a service's current state, 0 when it does not exist.
func serviceState(name string) uint32 {
	var st serviceStatus
	err := withService(name, func(h uintptr) error {
		_, err := call(procQueryServiceStat, h, uintptr(unsafe.Pointer(&st)))
		return err
	})
	if err != nil {
		return 0
	}
	return st.CurrentState
}

// waitState waits for a service to leave its pending states.
func waitState(name string, timeout time.Duration) uint32 {
	deadline := time.Now().Add(timeout)
	for {
		s := serviceState(name)
		if (s != serviceStartPending && s != serviceStopPending) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startService starts a service and waits until it runs or stopped.
func startService(name string) (uint32, error) {
	err := withService(name, func(h uintptr) error {
		_, err := call(procStartServiceW, h, 0, 0)
		if err == errServiceAlreadyRuns {
			return nil
		}
		return err
	})
	if err != nil {
		return serviceState(name), fmt.Errorf("StartService %s: %v", name, err)
	}
	return waitState(name, 15*time.Second), nil
}

// stopService stops a service and waits until it has.
func stopService(name string) error {
	err := withService(name, func(h uintptr) error {
		var st serviceStatus
		_, err := call(procControlService, h, controlStop, uintptr(unsafe.Pointer(&st)))
		if err == errServiceNotActive {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("ControlService %s STOP: %v", name, err)
	}
	if s := waitState(name, 30*time.Second); s != serviceStopped {
		return fmt.Errorf("%s did not stop (state %d)", name, s)
	}
	return nil
}

// reportEvent writes an information event of source to the event log.
func reportEvent(source, text string) {
	h, _, _ := procRegisterEventSrcW.Call(0, ptr(u16(source)))
	if h == 0 {
		return
	}
	defer procDeregisterEvtSrc.Call(h)
	strs := []*uint16{u16(text)}
	procReportEventW.Call(h, 4 /* EVENTLOG_INFORMATION_TYPE */, 0, 1, 0, 1, 0,
		uintptr(unsafe.Pointer(&strs[0])), 0)
}
