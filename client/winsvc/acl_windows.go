package winsvc

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

const (
	sddlRevision1            = 1
	seFileObject             = 1
	ownerSecurityInformation = 0x1
	daclSecurityInformation  = 0x4
	protectedDACLSecurityInf = 0x80000000
)

// SecureDirectory creates dir when missing and gives it the owner and
// protected DACL of sddl, which SetNamedSecurityInfo also pushes down to the
// files already inside (a reinstall over an older directory).
func SecureDirectory(dir, sddl string) error {
	if err := os.MkdirAll(dir, 0700); err != nil {
		return err
	}
	var sd uintptr // LocalAlloc'ed by Windows
	if _, err := call(procConvertStringSDToSDW, ptr(utf16(sddl)), sddlRevision1,
		uintptr(unsafe.Pointer(&sd)), 0); err != nil {
		return fmt.Errorf("security descriptor %q: %w", sddl, err)
	}
	defer localFree(sd)
	var present, defaulted int32
	var dacl, owner uintptr
	if _, err := call(procGetSecurityDescriptorD, sd, uintptr(unsafe.Pointer(&present)),
		uintptr(unsafe.Pointer(&dacl)), uintptr(unsafe.Pointer(&defaulted))); err != nil || present == 0 {
		return fmt.Errorf("security descriptor %q has no DACL (%v)", sddl, err)
	}
	if _, err := call(procGetSecurityDescriptorO, sd, uintptr(unsafe.Pointer(&owner)),
		uintptr(unsafe.Pointer(&defaulted))); err != nil {
		return fmt.Errorf("security descriptor %q: %w", sddl, err)
	}
	info := uintptr(daclSecurityInformation | protectedDACLSecurityInf)
	if owner != 0 {
		info |= ownerSecurityInformation
	}
	if err := callStatus(procSetNamedSecurityInfoW, ptr(utf16(dir)), seFileObject, info, owner, 0, dacl, 0); err != nil {
		return fmt.Errorf("cannot restrict %s to %s: %w", dir, sddl, err)
	}
	return nil
}

// DirectorySDDL is the owner and DACL of path as SDDL: what install logs,
// so the protection can be checked.
func DirectorySDDL(path string) (string, error) {
	info := uintptr(ownerSecurityInformation | daclSecurityInformation)
	var sd uintptr
	if err := callStatus(procGetNamedSecurityInfoW, ptr(utf16(path)), seFileObject, info, 0, 0, 0, 0,
		uintptr(unsafe.Pointer(&sd))); err != nil {
		return "", fmt.Errorf("cannot read the security of %s: %w", path, err)
	}
	defer localFree(sd)
	var str *uint16
	var n uint32
	if _, err := call(procConvertSDToStringSDW, sd, sddlRevision1, info, uintptr(unsafe.Pointer(&str)),
		uintptr(unsafe.Pointer(&n))); err != nil {
		return "", fmt.Errorf("cannot convert the security of %s: %w", path, err)
	}
	defer localFree(uintptr(unsafe.Pointer(str)))
	return syscall.UTF16ToString(unsafe.Slice(str, n)), nil
}

func localFree(p uintptr) {
	if p != 0 {
		syscall.LocalFree(syscall.Handle(p))
	}
}
