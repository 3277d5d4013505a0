package windows

// Job objects are set with JOBOBJECT_EXTENDED_LIMIT_INFORMATION, written
// here as bytes: its C layout aligns 64-bit fields on 8 bytes on x86 too,
// which a Go struct does not on 386.
const (
	jobObjectExtendedLimitInformation = 9
	jobObjectLimitKillOnJobClose      = 0x2000
	// LimitFlags follows two LARGE_INTEGERs on both architectures.
	jobLimitFlagsOffset = 16
)

// jobLimitInfoSize is sizeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION) for a
// pointer size: the basic limits (48 bytes on x86 with its padding, 64 on
// x64), IO_COUNTERS (48) and four SIZE_T.
func jobLimitInfoSize(ptrSize uintptr) uintptr {
	if ptrSize == 8 {
		return 64 + 48 + 4*8
	}
	return 48 + 48 + 4*4
}
