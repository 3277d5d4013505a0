package windows

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"unsafe"
)

const (
	errorNoMoreItems     = syscall.Errno(259)
	regOptionNonVolatile = 0
)

// regKey is an open registry key. Keys are opened in the 64-bit view
// unless the access asks for the 32-bit one, so that a 32-bit agent reads
// and writes what 64-bit Windows and its services use.
type regKey struct {
	h    syscall.Handle
	name string // for errors: HKLM\SOFTWARE\...
}

func rootName(root uintptr) string {
	switch root {
	case hkeyLocalMachine:
		return "HKLM"
	case hkeyCurrentUser:
		return "HKCU"
	case hkeyUsers:
		return "HKU"
	case hkeyClassesRoot:
		return "HKCR"
	}
	return fmt.Sprintf("HKEY(%#x)", root)
}

func viewAccess(access uint32) uint32 {
	if access&syscall.KEY_WOW64_32KEY == 0 {
		access |= syscall.KEY_WOW64_64KEY
	}
	return access
}

// openKey opens root\path for access.
func openKey(root uintptr, path string, access uint32) (*regKey, error) {
	name := rootName(root) + `\` + path
	p, err := utf16Ptr(path)
	if err != nil {
		return nil, fmt.Errorf("registry key %s: %v", name, err)
	}
	var h syscall.Handle
	if err := syscall.RegOpenKeyEx(syscall.Handle(root), p, 0, viewAccess(access), &h); err != nil {
		return nil, fmt.Errorf("registry key %s: %w", name, err)
	}
	return &regKey{h: h, name: name}, nil
}

// createKey opens root\path for access, creating it (and its parents)
// when missing.
func createKey(root uintptr, path string, access uint32) (*regKey, error) {
	name := rootName(root) + `\` + path
	p, err := utf16Ptr(path)
	if err != nil {
		return nil, fmt.Errorf("registry key %s: %v", name, err)
	}
	if err := need(procRegCreateKeyExW); err != nil {
		return nil, err
	}
	var h syscall.Handle
	r, _, _ := procRegCreateKeyExW.Call(root, uintptr(unsafe.Pointer(p)), 0, 0, regOptionNonVolatile,
		uintptr(viewAccess(access)), 0, uintptr(unsafe.Pointer(&h)), 0)
	if err := statusError(r); err != nil {
		return nil, fmt.Errorf("cannot create registry key %s: %w", name, err)
	}
	return &regKey{h: h, name: name}, nil
}

// deleteKey deletes root\path (without subkeys) in the 64-bit view.
func deleteKey(root uintptr, path string) error {
	p, err := utf16Ptr(path)
	if err != nil {
		return err
	}
	if err := need(procRegDeleteKeyExW); err != nil {
		return err
	}
	r, _, _ := procRegDeleteKeyExW.Call(root, uintptr(unsafe.Pointer(p)), syscall.KEY_WOW64_64KEY, 0)
	if err := statusError(r); err != nil {
		return fmt.Errorf("cannot delete registry key %s\\%s: %w", rootName(root), path, err)
	}
	return nil
}

func (k *regKey) Close() { syscall.RegCloseKey(k.h) }

// value reads a value's type and bytes.
func (k *regKey) value(name string) (uint32, []byte, error) {
	p, err := utf16Ptr(name)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %v", k.name, err)
	}
	buf := make([]byte, 256)
	for {
		var typ uint32
		n := uint32(len(buf))
		err := syscall.RegQueryValueEx(k.h, p, nil, &typ, &buf[0], &n)
		if err == syscall.ERROR_MORE_DATA && int(n) > len(buf) {
			buf = make([]byte, n)
			continue
		}
		if err != nil {
			return 0, nil, fmt.Errorf("%s value %q: %w", k.name, name, err)
		}
		return typ, buf[:n], nil
	}
}

// dword reads a REG_DWORD value.
func (k *regKey) dword(name string) (uint32, error) {
	typ, b, err := k.value(name)
	if err != nil {
		return 0, err
	}
	if typ != regDWORD || len(b) < 4 {
		return 0, fmt.Errorf("%s value %q is not a REG_DWORD (type %d)", k.name, name, typ)
	}
	return binary.LittleEndian.Uint32(b), nil
}

// str reads a REG_SZ or REG_EXPAND_SZ value (unexpanded).
func (k *regKey) str(name string) (string, error) {
	typ, b, err := k.value(name)
	if err != nil {
		return "", err
	}
	if typ != regSZ && typ != regExpandSZ {
		return "", fmt.Errorf("%s value %q is not a string (type %d)", k.name, name, typ)
	}
	return utf16String(b), nil
}

// setValue writes a value.
func (k *regKey) setValue(name string, typ uint32, data []byte) error {
	p, err := utf16Ptr(name)
	if err != nil {
		return fmt.Errorf("%s: %v", k.name, err)
	}
	if err := need(procRegSetValueExW); err != nil {
		return err
	}
	var d *byte
	if len(data) > 0 {
		d = &data[0]
	}
	r, _, _ := procRegSetValueExW.Call(uintptr(k.h), uintptr(unsafe.Pointer(p)), 0, uintptr(typ),
		uintptr(unsafe.Pointer(d)), uintptr(len(data)))
	if err := statusError(r); err != nil {
		return fmt.Errorf("cannot set %s value %q: %w", k.name, name, err)
	}
	return nil
}

// deleteValue removes a value; an absent one is no error.
func (k *regKey) deleteValue(name string) error {
	p, err := utf16Ptr(name)
	if err != nil {
		return err
	}
	if err := need(procRegDeleteValueW); err != nil {
		return err
	}
	r, _, _ := procRegDeleteValueW.Call(uintptr(k.h), uintptr(unsafe.Pointer(p)))
	if err := statusError(r); err != nil && err != syscall.ERROR_FILE_NOT_FOUND {
		return fmt.Errorf("cannot delete %s value %q: %w", k.name, name, err)
	}
	return nil
}

// subkeys lists the key's subkey names.
func (k *regKey) subkeys() ([]string, error) {
	var count, maxLen uint32
	if err := syscall.RegQueryInfoKey(k.h, nil, nil, nil, &count, &maxLen, nil, nil, nil, nil, nil, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", k.name, err)
	}
	names := make([]string, 0, count)
	buf := make([]uint16, maxLen+1)
	for i := uint32(0); ; i++ {
		n := uint32(len(buf))
		err := syscall.RegEnumKeyEx(k.h, i, &buf[0], &n, nil, nil, nil, nil)
		if err == errorNoMoreItems {
			return names, nil
		}
		if err == syscall.ERROR_MORE_DATA { // a longer key was added meanwhile
			buf = make([]uint16, 2*len(buf))
			i--
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: listing subkeys: %w", k.name, err)
		}
		names = append(names, syscall.UTF16ToString(buf[:n]))
	}
}

// keyExists reports whether root\path exists in the 64-bit view.
func keyExists(root uintptr, path string) bool {
	k, err := openKey(root, path, syscall.KEY_QUERY_VALUE)
	if err != nil {
		return false
	}
	k.Close()
	return true
}
