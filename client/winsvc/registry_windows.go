package winsvc

import (
	"fmt"
	"syscall"
	"unsafe"
)

const (
	regExpandSZ = 2
	regDWORD    = 4
)

// regKey is an open key under HKLM, always in the 64-bit view: a 32-bit
// agent on 64-bit Windows writes where Windows reads.
type regKey struct {
	h    syscall.Handle
	path string
}

func createHKLMKey(path string) (*regKey, error) {
	p, err := utf16(path)
	if err != nil {
		return nil, err
	}
	var h syscall.Handle
	var disposition uint32
	err = callStatus(procRegCreateKeyExW, uintptr(syscall.HKEY_LOCAL_MACHINE), ptr(p), 0, 0, 0,
		syscall.KEY_ALL_ACCESS|syscall.KEY_WOW64_64KEY, 0, uintptr(unsafe.Pointer(&h)),
		uintptr(unsafe.Pointer(&disposition)))
	if err != nil {
		return nil, fmt.Errorf(`cannot create HKLM\%s: %w`, path, err)
	}
	return &regKey{h, path}, nil
}

func (k *regKey) close() { syscall.RegCloseKey(k.h) }

func (k *regKey) setString(name, value string, kind uint32) error {
	data, err := syscall.UTF16FromString(value)
	if err != nil {
		return fmt.Errorf(`HKLM\%s\%s: %w`, k.path, name, err)
	}
	n, err := utf16(name)
	if err != nil {
		return err
	}
	if err := callStatus(procRegSetValueExW, uintptr(k.h), ptr(n), 0, uintptr(kind),
		uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)*2)); err != nil {
		return fmt.Errorf(`cannot set HKLM\%s\%s: %w`, k.path, name, err)
	}
	return nil
}

func (k *regKey) setDWORD(name string, value uint32) error {
	n, err := utf16(name)
	if err != nil {
		return err
	}
	if err := callStatus(procRegSetValueExW, uintptr(k.h), ptr(n), 0, regDWORD,
		uintptr(unsafe.Pointer(&value)), 4); err != nil {
		return fmt.Errorf(`cannot set HKLM\%s\%s: %w`, k.path, name, err)
	}
	return nil
}

// deleteHKLMKey deletes a key without subkeys, in the 64-bit view too
// (where createHKLMKey made it); a missing key is no error.
func deleteHKLMKey(path string) error {
	p, err := utf16(path)
	if err != nil {
		return err
	}
	err = callStatus(procRegDeleteKeyExW, uintptr(syscall.HKEY_LOCAL_MACHINE), ptr(p), syscall.KEY_WOW64_64KEY, 0)
	if err != nil && err != syscall.Errno(errFileNotFound) {
		return fmt.Errorf(`cannot delete HKLM\%s: %w`, path, err)
	}
	return nil
}
