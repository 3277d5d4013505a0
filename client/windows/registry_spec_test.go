package windows

import (
	"bytes"
	"testing"
)

func TestParseRegistryKey(t *testing.T) {
	root, sub, err := parseRegistryKey(`HKLM\SOFTWARE\Policies\Microsoft\Microsoft Antimalware\SpyNet`)
	if err != nil || root != hkeyLocalMachine || sub != `SOFTWARE\Policies\Microsoft\Microsoft Antimalware\SpyNet` {
		t.Errorf("got %x %q %v", root, sub, err)
	}
	if root, sub, err := parseRegistryKey(`hkey_users\.DEFAULT\x\`); err != nil || root != hkeyUsers || sub != `.DEFAULT\x` {
		t.Errorf("got %x %q %v", root, sub, err)
	}
	for _, bad := range []string{`HKXX\SOFTWARE`, `HKLM`, `HKLM\`, `SOFTWARE\x`} {
		if _, _, err := parseRegistryKey(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestEncodeRegistryValue(t *testing.T) {
	cases := []struct {
		typ, value string
		regType    uint32
		data       []byte
	}{
		{"REG_DWORD", "2", regDWORD, []byte{2, 0, 0, 0}},
		{"reg_dword", "0x10", regDWORD, []byte{0x10, 0, 0, 0}},
		{"REG_DWORD", "4294967295", regDWORD, []byte{0xff, 0xff, 0xff, 0xff}},
		{"REG_DWORD", "-1", regDWORD, []byte{0xff, 0xff, 0xff, 0xff}},
		{"REG_QWORD", "1", regQWORD, []byte{1, 0, 0, 0, 0, 0, 0, 0}},
		{"REG_SZ", "Aé", regSZ, []byte{'A', 0, 0xe9, 0, 0, 0}},
		{"REG_EXPAND_SZ", "%x%", regExpandSZ, []byte{'%', 0, 'x', 0, '%', 0, 0, 0}},
	}
	for _, c := range cases {
		typ, data, err := encodeRegistryValue(c.typ, c.value)
		if err != nil || typ != c.regType || !bytes.Equal(data, c.data) {
			t.Errorf("%s %q: got %d %x %v", c.typ, c.value, typ, data, err)
		}
	}
	for _, bad := range [][2]string{{"REG_DWORD", "4294967296"}, {"REG_DWORD", "two"}, {"REG_BINARY", "00"}, {"REG_MULTI_SZ", "a"}} {
		if _, _, err := encodeRegistryValue(bad[0], bad[1]); err == nil {
			t.Errorf("%s %q accepted", bad[0], bad[1])
		}
	}
	if got := utf16String(utf16Bytes("Enterprise")); got != "Enterprise" {
		t.Errorf("round trip: %q", got)
	}
}
