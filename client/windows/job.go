package windows

// Job objects are set with JOBOBJECT_EXTENDED_LIMIT_INFORMATION, written
// here as 8-byte words (jobLimitInfo): its C layout aligns 64-bit fields
// on 8 bytes on x86 too, which a Go struct does not on 386.
const (
	jobObjectExtendedLimitInformation = 9
	jobObjectLimitKillOnJobClose      = 0x2000
	// LimitFlags follows two LARGE_INTEGERs on both architectures.
	jobLimitFlagsOffset = 16
)

// jobLimitInfo holds a JOBOBJECT_EXTENDED_LIMIT_INFORMATION, 8-byte
// aligned as its LARGE_INTEGERs are: 144 bytes, x64's size (x86's is 112).
type jobLimitInfo [18]uint64

// killOnClose is the limit information of a job that kills its processes
// when its last handle closes: LimitFlags is the low half of the third
// word (little-endian), the rest zero. A global, so 8-byte aligned on 386
// too (a local array of uint64 there is only sure of 4); only read.
var killOnClose = func() (info jobLimitInfo) {
	info[jobLimitFlagsOffset/8] = jobObjectLimitKillOnJobClose
	return info
}()

// jobLimitInfoSize is sizeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION) for a
// pointer size: the basic limits (48 bytes on x86 with its padding, 64 on
// x64), IO_COUNTERS (48) and four SIZE_T.
func jobLimitInfoSize(ptrSize uintptr) uintptr {
	if ptrSize == 8 {
		return 64 + 48 + 4*8
	}
	return 48 + 48 + 4*4
}

// stillActive is STILL_ACTIVE, what GetExitCodeProcess says of a process
// that has not ended; but a process may also exit with 259.
const stillActive = 259

// reportedExitCode is the exit code to report from GetExitCodeProcess's
// code, and whether there is one. Once the wait saw the process end, the
// code is its exit code, 259 included; otherwise (the deadline passed and
// the process was killed) 259 means it had not ended yet.
func reportedExitCode(ended bool, code uint32) (int32, bool) {
	if !ended && code == stillActive {
		return 0, false
	}
	return int32(code), true
}
