package windows

import (
	"testing"
	"unsafe"
)

func TestJobLimitInfoSize(t *testing.T) {
	// sizeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION) from the Windows SDK.
	if jobLimitInfoSize(8) != 144 || jobLimitInfoSize(4) != 112 {
		t.Errorf("sizes %d and %d, want 144 (x64) and 112 (x86)", jobLimitInfoSize(8), jobLimitInfoSize(4))
	}
}

// The buffer handed to SetInformationJobObject: large enough for x64's
// structure, 8-byte aligned, LimitFlags at byte 16.
func TestKillOnCloseLimits(t *testing.T) {
	if n := unsafe.Sizeof(killOnClose); n < jobLimitInfoSize(8) || n < jobLimitInfoSize(unsafe.Sizeof(uintptr(0))) {
		t.Errorf("jobLimitInfo is %d bytes, want at least %d", n, jobLimitInfoSize(8))
	}
	if p := uintptr(unsafe.Pointer(&killOnClose[0])); p%8 != 0 {
		t.Errorf("killOnClose at %#x is not 8-byte aligned", p)
	}
	b := (*[144]byte)(unsafe.Pointer(&killOnClose[0]))
	for i, v := range b {
		want := byte(0)
		if i == jobLimitFlagsOffset+1 {
			want = byte(jobObjectLimitKillOnJobClose >> 8) // 0x2000, little-endian
		}
		if v != want {
			t.Errorf("byte %d is %#x, want %#x", i, v, want)
		}
	}
}

// A process that exits with 259 (STILL_ACTIVE's value) reports 259; only
// after a timeout does 259 mean it had not ended.
func TestReportedExitCode(t *testing.T) {
	cases := []struct {
		ended bool
		code  uint32
		want  int32
		ok    bool
	}{
		{true, 259, 259, true},
		{true, 0, 0, true},
		{true, 0x80240017, -2145124329, true},
		{false, 259, 0, false},
		{false, 1, 1, true},
	}
	for _, c := range cases {
		if got, ok := reportedExitCode(c.ended, c.code); got != c.want || ok != c.ok {
			t.Errorf("reportedExitCode(%v, %d) = %d, %v; want %d, %v", c.ended, c.code, got, ok, c.want, c.ok)
		}
	}
}
