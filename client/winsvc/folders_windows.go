package winsvc

import (
	"errors"
	"os"
	"syscall"
	"unsafe"
)

var procSHGetFolderPathW = syscall.NewLazyDLL("shell32.dll").NewProc("SHGetFolderPathW")

const csidlCommonAppData = 0x23

// ProgramData is the all-users application data folder (C:\ProgramData)
// as Windows knows it: a service's environment may lack %ProgramData% (Wine
// gives services none), and the installer and the service must agree on
// the state directory.
func ProgramData() (string, error) {
	buf := make([]uint16, 260) // MAX_PATH, what SHGetFolderPath requires
	if hr, _, _ := procSHGetFolderPathW.Call(0, csidlCommonAppData, 0, 0, uintptr(unsafe.Pointer(&buf[0]))); hr == 0 {
		return syscall.UTF16ToString(buf), nil
	}
	if dir := os.Getenv("ProgramData"); dir != "" {
		return dir, nil
	}
	return "", errors.New("cannot find the ProgramData folder (SHGetFolderPath failed and %ProgramData% is not set)")
}
