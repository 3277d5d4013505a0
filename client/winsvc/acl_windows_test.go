package winsvc

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

var procSetNamedSecurityInfoW = advapi32.NewProc("SetNamedSecurityInfoW")

// setSDDL gives path the owner (when the SDDL has one and Windows lets
// this process set it) and DACL of sddl, as a user could on what he made.
func setSDDL(t *testing.T, path, sddl string) {
	t.Helper()
	d, err := parseSDDL(sddl)
	if err != nil {
		t.Fatal(err)
	}
	defer localFree(d.sd)
	p, _ := utf16(path)
	const protectedDACL = 0x80000000
	if err := callStatus(procSetNamedSecurityInfoW, ptr(p), seFileObject,
		daclSecurityInformation|protectedDACL, 0, 0, d.dacl, 0); err != nil {
		t.Fatalf("cannot set %s on %s: %v", sddl, path, err)
	}
	// The owner: Windows refuses one the process is not (BU), unless it
	// holds SeRestorePrivilege; then the test covers it too.
	callStatus(procSetNamedSecurityInfoW, ptr(p), seFileObject, ownerSecurityInformation, d.owner, 0, 0, 0)
}

func sddlOf(t *testing.T, path string) string {
	t.Helper()
	s, err := DirectorySDDL(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A tree a user made before the install (his own DACLs, a file in the
// cache) keeps nothing of his: every entry gets the state directory's
// owner and protected DACL.
func TestSecureDirectoryResetsTheWholeTree(t *testing.T) {
	top := filepath.Join(t.TempDir(), "Purser")
	cache, logs := filepath.Join(top, "cache"), filepath.Join(top, "logs")
	planted, conf := filepath.Join(cache, "planted"), filepath.Join(top, "agent.conf")
	for _, d := range []string{cache, logs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{planted, conf} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setSDDL(t, top, "O:BUD:P(A;OICI;FA;;;BU)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)")
	setSDDL(t, cache, "O:BUD:P(A;OICI;FA;;;WD)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)")
	setSDDL(t, planted, "O:BUD:P(A;;FA;;;BU)(A;;FA;;;SY)(A;;FA;;;BA)")
	setSDDL(t, logs, "O:BUD:(A;OICI;FA;;;BU)")
	// Wine keeps no security descriptor on files (only Unix permissions):
	// there, SecureDirectory must still succeed, but the result cannot
	// be read back.
	kept := strings.Contains(sddlOf(t, planted), ";BU)")

	if err := SecureDirectory(top, StateDirSDDL, StateFileSDDL); err != nil {
		t.Fatal(err)
	}
	if !kept {
		t.Skipf("this file system keeps no security descriptor (%s): the result is not checked", sddlOf(t, planted))
	}
	if s := sddlOf(t, top); !protectedAsSet(s) {
		t.Errorf("%s: %s, want %s", top, s, StateDirSDDL)
	}
	for _, d := range []string{cache, logs} {
		if s := sddlOf(t, d); !protectedAsSet(s) {
			t.Errorf("%s: %s, want %s", d, s, StateDirSDDL)
		}
	}
	for _, f := range []string{planted, conf} {
		s := sddlOf(t, f)
		if !strings.HasPrefix(s, "O:BAD:") || !strings.HasSuffix(s, "(A;;FA;;;SY)(A;;FA;;;BA)") ||
			!strings.Contains(s[len("O:BAD:"):strings.IndexByte(s, '(')], "P") {
			t.Errorf("%s: %s, want %s", f, s, StateFileSDDL)
		}
	}
	// A reinstall over it changes nothing.
	if err := SecureDirectory(top, StateDirSDDL, StateFileSDDL); err != nil {
		t.Fatal(err)
	}
}

// mountPoint makes link a junction to target, or skips the test where the
// file system (Wine's, for one) cannot.
func mountPoint(t *testing.T, link, target string) {
	t.Helper()
	if err := os.Mkdir(link, 0o700); err != nil {
		t.Fatal(err)
	}
	sub := `\??\` + target
	subU, _ := syscall.UTF16FromString(sub)
	printU, _ := syscall.UTF16FromString(target)
	// REPARSE_DATA_BUFFER for IO_REPARSE_TAG_MOUNT_POINT: the substitute
	// and print names, each NUL-terminated.
	pathBytes := (len(subU) + len(printU)) * 2
	buf := make([]byte, 8+8+pathBytes)
	le := func(off int, v uint16) { buf[off], buf[off+1] = byte(v), byte(v>>8) }
	le(0, 0xA003)
	le(2, 0)
	buf[0], buf[1], buf[2], buf[3] = 0x03, 0x00, 0x00, 0xA0 // tag 0xA0000003
	le(4, uint16(8+pathBytes))
	le(8, 0)                          // substitute name offset
	le(10, uint16((len(subU)-1)*2))   // its length, without NUL
	le(12, uint16(len(subU)*2))       // print name offset
	le(14, uint16((len(printU)-1)*2)) // its length
	for i, c := range append(subU, printU...) {
		le(16+2*i, c)
	}
	p, _ := utf16(link)
	h, err := syscall.CreateFile(p, syscall.GENERIC_WRITE, 0, nil, syscall.OPEN_EXISTING,
		fileFlagBackupSemantics|fileFlagOpenReparsePoint, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.CloseHandle(h)
	const fsctlSetReparsePoint = 0x000900A4
	var n uint32
	if err := syscall.DeviceIoControl(h, fsctlSetReparsePoint, &buf[0], uint32(len(buf)), nil, 0, &n, nil); err != nil {
		t.Skipf("cannot make a junction here: %v", err)
	}
	if _, reparse, err := lstatAttrs(link); err != nil || !reparse {
		t.Skipf("the junction made does not read back as a reparse point (%v)", err)
	}
}

// A logs junction (to a folder SYSTEM would then write into, or whose
// ACL it would change) is refused, naming it, and its target untouched.
func TestSecureDirectoryRefusesAJunction(t *testing.T) {
	base := t.TempDir()
	top, target := filepath.Join(base, "Purser"), filepath.Join(base, "target")
	for _, d := range []string{top, target} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	before := sddlOf(t, target)
	mountPoint(t, filepath.Join(top, "logs"), target)
	err := SecureDirectory(top, StateDirSDDL, StateFileSDDL)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(top, "logs")+" is a junction") {
		t.Errorf("got %v, want the junction refused by name", err)
	}
	if after := sddlOf(t, target); after != before {
		t.Errorf("the junction's target changed from %s to %s", before, after)
	}
	// The top directory itself.
	err = SecureDirectory(filepath.Join(top, "logs"), StateDirSDDL, StateFileSDDL)
	if err == nil || !strings.Contains(err.Error(), " is a junction") {
		t.Errorf("top junction: got %v", err)
	}
}

func TestUTF16RefusesNUL(t *testing.T) {
	if _, err := utf16("a\x00b"); err == nil {
		t.Error("utf16 accepted a NUL")
	}
	if p, err := utf16("ab"); err != nil || syscall.UTF16ToString(unsafe.Slice(p, 3)) != "ab" {
		t.Errorf("utf16(ab): %v", err)
	}
}
