package windows

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
)

func utf16le(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = append(b, byte(c), byte(c>>8))
	}
	return b
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	tb := newTailBuffer(10)
	for i := 0; i < 100; i++ {
		tb.Write([]byte("0123456789"[i%10 : i%10+1]))
	}
	tail, dropped := tb.Tail()
	if string(tail) != "0123456789" || dropped != 90 {
		t.Errorf("tail %q dropped %d, want 0123456789 and 90", tail, dropped)
	}
	big := newTailBuffer(outputLimit)
	big.Write(bytes.Repeat([]byte("x"), 3*outputLimit))
	big.Write([]byte("END"))
	if tail, _ := big.Tail(); len(tail) != outputLimit || !bytes.HasSuffix(tail, []byte("END")) {
		t.Errorf("tail of %d bytes, want %d ending in END", len(tail), outputLimit)
	}
}

func TestDecodeOutput(t *testing.T) {
	oem := func(b []byte) string { return fmt.Sprintf("OEM:%x", b) }
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"utf8", []byte("déjà vu\r\n"), "déjà vu\n"},
		{"utf16 bom", append([]byte{0xff, 0xfe}, utf16le("HotFixID\r\r\nKB4074598\r\r\n")...), "HotFixID\nKB4074598\n"},
		{"utf16 no bom", utf16le("Caption  Description\r\n"), "Caption  Description\n"},
		{"utf16 cut on a high byte", utf16le("xKB4074598 installed")[1:], "KB4074598 installed"},
		{"oem", []byte{'a', 0x82, 'b'}, "OEM:618262"},
	}
	for _, c := range cases {
		if got := decodeOutput(c.in, oem); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	if got := decodeOutput([]byte{'a', 0xff, 'b'}, nil); got != "a\uFFFDb" {
		t.Errorf("without a code page: got %q", got)
	}
}

func TestProcessOutputSaysWhatWasDropped(t *testing.T) {
	tb := newTailBuffer(8)
	tb.Write([]byte("aaaaaaaaaa"))
	tb.Write([]byte("é1234567")) // the cut falls inside é
	got := processOutput(tb, nil)
	if !strings.HasPrefix(got, "[11 earlier bytes of output dropped]\n") || !strings.HasSuffix(got, "1234567") ||
		strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("got %q", got)
	}
}
