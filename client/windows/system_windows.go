package windows

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"unsafe"
)

// machineFacts are what the executor needs to know of its own process
// before it runs anything.
type machineFacts struct {
	windir string // C:\Windows
	wow64  bool   // a 32-bit agent on 64-bit Windows
}

func readMachineFacts() (machineFacts, error) {
	var m machineFacts
	if err := need(procIsWow64Process, procGetSystemWindowsDirectoryW); err != nil {
		return m, err
	}
	buf := make([]uint16, syscall.MAX_PATH)
	r, _, e := procGetSystemWindowsDirectoryW.Call(uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if r == 0 || int(r) >= len(buf) {
		return m, fmt.Errorf("GetSystemWindowsDirectory: %v", lastError(e))
	}
	m.windir = syscall.UTF16ToString(buf[:r])
	p, err := syscall.GetCurrentProcess()
	if err != nil {
		return m, err
	}
	var wow uint32
	r, _, e = procIsWow64Process.Call(uintptr(p), uintptr(unsafe.Pointer(&wow)))
	if r == 0 {
		return m, fmt.Errorf("IsWow64Process: %v", lastError(e))
	}
	m.wow64 = wow != 0
	return m, nil
}

// osVersionInfoEx is RTL_OSVERSIONINFOEXW (284 bytes on both
// architectures).
type osVersionInfoEx struct {
	size             uint32
	major            uint32
	minor            uint32
	build            uint32
	platformID       uint32
	csdVersion       [128]uint16
	servicePackMajor uint16
	servicePackMinor uint16
	suiteMask        uint16
	productType      uint8
	reserved         uint8
}

// rtlGetVersion is the real OS version: GetVersionEx answers what the
// program's manifest and compatibility shims say, RtlGetVersion does not.
func rtlGetVersion() (osVersionInfoEx, error) {
	var v osVersionInfoEx
	v.size = uint32(unsafe.Sizeof(v))
	if err := need(procRtlGetVersion); err != nil {
		return v, err
	}
	r, _, _ := procRtlGetVersion.Call(uintptr(unsafe.Pointer(&v)))
	if r != 0 {
		return v, fmt.Errorf("RtlGetVersion: NTSTATUS %#x", r)
	}
	return v, nil
}

// nativeProcessorArchitecture is the machine's own architecture, not the
// one WOW64 shows a 32-bit process.
func nativeProcessorArchitecture() (uint16, error) {
	if err := need(procGetNativeSystemInfo); err != nil {
		return 0, err
	}
	var si [64]byte // SYSTEM_INFO: 36 bytes on x86, 48 on x64; the architecture comes first
	procGetNativeSystemInfo.Call(uintptr(unsafe.Pointer(&si[0])))
	return binary.LittleEndian.Uint16(si[:2]), nil
}
