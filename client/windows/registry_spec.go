package windows

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Predefined registry roots (winreg.h), as handle values.
const (
	hkeyClassesRoot  = 0x80000000
	hkeyCurrentUser  = 0x80000001
	hkeyLocalMachine = 0x80000002
	hkeyUsers        = 0x80000003
)

// Registry value types (winnt.h).
const (
	regSZ       = 1
	regExpandSZ = 2
	regBinary   = 3
	regDWORD    = 4
	regQWORD    = 11
)

var registryRoots = map[string]uintptr{
	"HKLM": hkeyLocalMachine, "HKEY_LOCAL_MACHINE": hkeyLocalMachine,
	"HKCU": hkeyCurrentUser, "HKEY_CURRENT_USER": hkeyCurrentUser,
	"HKU": hkeyUsers, "HKEY_USERS": hkeyUsers,
	"HKCR": hkeyClassesRoot, "HKEY_CLASSES_ROOT": hkeyClassesRoot,
}

// parseRegistryKey splits "HKLM\SOFTWARE\..." into its root and subkey.
func parseRegistryKey(key string) (uintptr, string, error) {
	key = strings.Trim(key, `\`)
	rootName, sub := key, ""
	if i := strings.IndexByte(key, '\\'); i >= 0 {
		rootName, sub = key[:i], strings.Trim(key[i+1:], `\`)
	}
	root, ok := registryRoots[strings.ToUpper(rootName)]
	if !ok {
		return 0, "", fmt.Errorf("registry key %q: root %q is not HKLM, HKCU, HKU or HKCR", key, rootName)
	}
	if sub == "" {
		return 0, "", fmt.Errorf("registry key %q names no subkey", key)
	}
	return root, sub, nil
}

// encodeRegistryValue is value as the bytes of a value of type typ
// ("REG_DWORD", "REG_QWORD" in decimal or 0x hex, "REG_SZ",
// "REG_EXPAND_SZ").
func encodeRegistryValue(typ, value string) (uint32, []byte, error) {
	switch strings.ToUpper(typ) {
	case "REG_DWORD":
		n, err := parseRegistryNumber(value, 32)
		if err != nil {
			return 0, nil, err
		}
		b := make([]byte, 4)
		binary.LittleEndian.PutUint32(b, uint32(n))
		return regDWORD, b, nil
	case "REG_QWORD":
		n, err := parseRegistryNumber(value, 64)
		if err != nil {
			return 0, nil, err
		}
		b := make([]byte, 8)
		binary.LittleEndian.PutUint64(b, n)
		return regQWORD, b, nil
	case "REG_SZ":
		return regSZ, utf16Bytes(value), nil
	case "REG_EXPAND_SZ":
		return regExpandSZ, utf16Bytes(value), nil
	}
	return 0, nil, fmt.Errorf("registry type %q is not REG_DWORD, REG_QWORD, REG_SZ or REG_EXPAND_SZ", typ)
}

// parseRegistryNumber reads an unsigned number of bits bits, or a negative
// one written as its two's complement (reg.exe accepts both).
func parseRegistryNumber(s string, bits int) (uint64, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseUint(s, 0, bits); err == nil {
		return n, nil
	}
	n, err := strconv.ParseInt(s, 0, bits)
	if err != nil {
		return 0, fmt.Errorf("%q is not a %d-bit number", s, bits)
	}
	if bits == 32 {
		return uint64(uint32(int32(n))), nil
	}
	return uint64(n), nil
}

// utf16Bytes is s as a registry string: UTF-16LE with its terminating NUL.
func utf16Bytes(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u)+2)
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// utf16String reads a registry string, up to its first NUL.
func utf16String(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
