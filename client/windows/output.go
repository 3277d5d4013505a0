package windows

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// tailBuffer keeps the last limit bytes written to it: a tool's error is
// at the end of its output, and a chatty one must not fill the memory.
type tailBuffer struct {
	mu      sync.Mutex
	limit   int
	buf     []byte
	dropped int64
}

func newTailBuffer(limit int) *tailBuffer { return &tailBuffer{limit: limit} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	// Trimmed only past twice the limit, so each byte is copied a bounded
	// number of times.
	if len(t.buf) > 2*t.limit {
		cut := len(t.buf) - t.limit
		t.dropped += int64(cut)
		t.buf = append(t.buf[:0], t.buf[cut:]...)
	}
	return len(p), nil
}

// Tail is the kept output and how many earlier bytes were dropped.
func (t *tailBuffer) Tail() ([]byte, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, dropped := t.buf, t.dropped
	if len(b) > t.limit {
		dropped += int64(len(b) - t.limit)
		b = b[len(b)-t.limit:]
	}
	return append([]byte(nil), b...), dropped
}

// decodeOutput makes a tool's output text: UTF-16 (wmic, some PowerShell
// hosts) or UTF-8 as they are, anything else through oem (the console code
// page, Windows only; nil replaces invalid bytes). Line ends become \n.
func decodeOutput(b []byte, oem func([]byte) string) string {
	var s string
	switch {
	case len(b) >= 2 && b[0] == 0xff && b[1] == 0xfe:
		s = decodeUTF16LE(b[2:])
	case looksUTF16LE(b):
		s = decodeUTF16LE(b)
	case utf8.Valid(b):
		s = string(b)
	case oem != nil:
		s = oem(b)
	default:
		s = strings.ToValidUTF8(string(b), "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\r\r\n", "\n") // wmic's line ends
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return s
}

// looksUTF16LE: ASCII-heavy UTF-16 has a NUL in every other byte. A tail
// cut may start on the high byte: the NULs are then at even offsets.
func looksUTF16LE(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	var even, odd int
	for i, c := range b {
		if c == 0 {
			if i%2 == 0 {
				even++
			} else {
				odd++
			}
		}
	}
	half := len(b) / 2
	return odd*10 >= half*8 || even*10 >= half*8
}

func decodeUTF16LE(b []byte) string {
	// Align on the NULs (the high bytes of ASCII): a cut tail may begin
	// with a lone high byte.
	var even, odd int
	for i, c := range b {
		if c == 0 {
			if i%2 == 0 {
				even++
			} else {
				odd++
			}
		}
	}
	if even > odd {
		b = b[1:]
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}

// processOutput is a process's captured output as text, saying what was
// dropped from its beginning.
func processOutput(t *tailBuffer, oem func([]byte) string) string {
	b, dropped := t.Tail()
	if dropped > 0 {
		// The cut may split a UTF-8 character: drop its continuation bytes.
		for i := 0; i < 3 && len(b) > 0 && b[0]&0xc0 == 0x80; i++ {
			b = b[1:]
		}
	}
	s := decodeOutput(b, oem)
	if dropped > 0 {
		s = fmt.Sprintf("[%d earlier bytes of output dropped]\n%s", dropped, s)
	}
	return s
}
