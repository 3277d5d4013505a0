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

	fileAttributeDirectory    = 0x10
	fileAttributeReparsePoint = 0x400
	fileFlagBackupSemantics   = 0x02000000 // also what opens a directory
	fileFlagOpenReparsePoint  = 0x00200000
	readControl               = 0x00020000
	writeDAC                  = 0x00040000
	writeOwner                = 0x00080000
	fileReadAttributes        = 0x0080
	sePrivilegeEnabled        = 0x2
)

// SecureDirectory creates dir when missing and secures the whole tree:
// dir gets the owner and protected DACL of dirSDDL, the directories under
// it the same, and its files those of fileSDDL (the same ACEs without
// inheritance flags). What was there before the install, a user's
// included, keeps no ACE, owner or protection of its own. A junction or
// other reparse point anywhere in the tree is refused, naming it, before
// anything changes.
func SecureDirectory(dir, dirSDDL, fileSDDL string) error {
	if _, reparse, err := lstatAttrs(dir); err == nil && reparse {
		return errReparse(dir) // which MkdirAll would follow
	}
	if err := os.MkdirAll(dir, 0700); err != nil {
		return err
	}
	dirSD, err := parseSDDL(dirSDDL)
	if err != nil {
		return err
	}
	defer localFree(dirSD.sd)
	fileSD, err := parseSDDL(fileSDDL)
	if err != nil {
		return err
	}
	defer localFree(fileSD.sd)
	// What a user created may deny Administrators everything: opening it
	// to take ownership and rewrite its DACL, and listing it, need these
	// privileges (held, not enabled, by administrators and SYSTEM).
	restore := enablePrivileges("SeTakeOwnershipPrivilege", "SeRestorePrivilege", "SeBackupPrivilege")
	defer restore()
	return secureTree(dir, treeOps{
		lstat:  lstatAttrs,
		list:   listNames,
		secure: func(path string) (bool, error) { return setSecurity(path, dirSD, fileSD) },
	})
}

// securityDescriptor is a parsed SDDL: the descriptor (LocalAlloc'ed by
// Windows) and its owner and DACL inside it.
type securityDescriptor struct{ sd, owner, dacl uintptr }

func parseSDDL(sddl string) (securityDescriptor, error) {
	var d securityDescriptor
	p, err := utf16(sddl)
	if err != nil {
		return d, err
	}
	if _, err := call(procConvertStringSDToSDW, ptr(p), sddlRevision1, uintptr(unsafe.Pointer(&d.sd)), 0); err != nil {
		return d, fmt.Errorf("security descriptor %q: %w", sddl, err)
	}
	var present, defaulted int32
	if _, err := call(procGetSecurityDescriptorD, d.sd, uintptr(unsafe.Pointer(&present)),
		uintptr(unsafe.Pointer(&d.dacl)), uintptr(unsafe.Pointer(&defaulted))); err != nil || present == 0 || d.dacl == 0 {
		localFree(d.sd)
		return d, fmt.Errorf("security descriptor %q has no DACL (%v)", sddl, err)
	}
	if _, err := call(procGetSecurityDescriptorO, d.sd, uintptr(unsafe.Pointer(&d.owner)),
		uintptr(unsafe.Pointer(&defaulted))); err != nil || d.owner == 0 {
		localFree(d.sd)
		return d, fmt.Errorf("security descriptor %q has no owner (%v)", sddl, err)
	}
	return d, nil
}

// lstatAttrs reads path's attributes without following a reparse point.
func lstatAttrs(path string) (dir, reparse bool, err error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return false, false, err
	}
	a, ok := fi.Sys().(*syscall.Win32FileAttributeData)
	if !ok {
		return false, false, fmt.Errorf("no attributes")
	}
	return a.FileAttributes&fileAttributeDirectory != 0, a.FileAttributes&fileAttributeReparsePoint != 0, nil
}

func listNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// setSecurity opens path itself (a reparse point is not followed but
// refused, on the handle: the entry may have been replaced since it was
// checked) and gives it dirSD's owner and protected DACL, or fileSD's when
// it is a file. It says whether path is a directory.
func setSecurity(path string, dirSD, fileSD securityDescriptor) (dir bool, err error) {
	p, err := utf16(path)
	if err != nil {
		return false, err
	}
	h, err := syscall.CreateFile(p, readControl|writeDAC|writeOwner|fileReadAttributes,
		syscall.FILE_SHARE_READ|syscall.FILE_SHARE_WRITE|syscall.FILE_SHARE_DELETE, nil, syscall.OPEN_EXISTING,
		fileFlagBackupSemantics|fileFlagOpenReparsePoint, 0)
	if err != nil {
		return false, fmt.Errorf("cannot open %s to restrict it: %w", path, err)
	}
	defer syscall.CloseHandle(h)
	var info syscall.ByHandleFileInformation
	if err := syscall.GetFileInformationByHandle(h, &info); err != nil {
		return false, fmt.Errorf("cannot read the attributes of %s: %w", path, err)
	}
	if info.FileAttributes&fileAttributeReparsePoint != 0 {
		return false, errReparse(path)
	}
	dir = info.FileAttributes&fileAttributeDirectory != 0
	d := fileSD
	if dir {
		d = dirSD
	}
	// The object itself only: SetSecurityInfo would also rewrite the
	// inherited ACEs of what is under it, by name, before it is checked.
	// The descriptor's control bits carry the DACL's protection ("P").
	if _, err := call(procSetKernelObjectSecurity, uintptr(h), ownerSecurityInformation|daclSecurityInformation,
		d.sd); err != nil {
		return false, fmt.Errorf("cannot set the owner and permissions of %s: %w", path, err)
	}
	return dir, nil
}

// luidAndAttributes and tokenPrivileges are LUID_AND_ATTRIBUTES and
// TOKEN_PRIVILEGES (4-byte aligned on both architectures).
type luidAndAttributes struct {
	low, high, attributes uint32
}

type tokenPrivileges struct {
	count      uint32
	privileges [3]luidAndAttributes
}

// enablePrivileges enables what the process's token holds of names (an
// account without one simply goes without) and returns what restores the
// previous state.
func enablePrivileges(names ...string) (restore func()) {
	var token syscall.Token
	p, _ := syscall.GetCurrentProcess()
	if err := syscall.OpenProcessToken(p, syscall.TOKEN_ADJUST_PRIVILEGES|syscall.TOKEN_QUERY, &token); err != nil {
		return func() {}
	}
	var tp tokenPrivileges
	for _, name := range names {
		n, err := utf16(name)
		if err != nil || int(tp.count) == len(tp.privileges) {
			continue
		}
		l := &tp.privileges[tp.count]
		if _, err := call(procLookupPrivilegeValueW, 0, ptr(n), uintptr(unsafe.Pointer(l))); err == nil {
			l.attributes = sePrivilegeEnabled
			tp.count++
		}
	}
	var prev tokenPrivileges
	var n uint32
	if tp.count == 0 {
		token.Close()
		return func() {}
	}
	if _, err := call(procAdjustTokenPrivileges, uintptr(token), 0, uintptr(unsafe.Pointer(&tp)),
		unsafe.Sizeof(prev), uintptr(unsafe.Pointer(&prev)), uintptr(unsafe.Pointer(&n))); err != nil {
		token.Close()
		return func() {}
	}
	return func() {
		if prev.count > 0 {
			procAdjustTokenPrivileges.Call(uintptr(token), 0, uintptr(unsafe.Pointer(&prev)), 0, 0, 0)
		}
		token.Close()
	}
}

// DirectorySDDL is the owner and DACL of path as SDDL: what install logs,
// so the protection can be checked.
func DirectorySDDL(path string) (string, error) {
	p, err := utf16(path)
	if err != nil {
		return "", err
	}
	info := uintptr(ownerSecurityInformation | daclSecurityInformation)
	var sd uintptr
	if err := callStatus(procGetNamedSecurityInfoW, ptr(p), seFileObject, info, 0, 0, 0, 0,
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
