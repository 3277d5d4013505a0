package windows

import (
	"fmt"
	"syscall"
	"unsafe"

	"purser/client/agent"
)

const (
	// A planned application installation, as the System event log
	// records it (event 1074).
	shutdownReason = 0x00040000 | 0x00000002 | 0x80000000 // SHTDN_REASON_MAJOR_APPLICATION | MINOR_INSTALLATION | FLAG_PLANNED

	errShutdownInProgress = syscall.Errno(1115)
	errShutdownScheduled  = syscall.Errno(1190)

	sePrivilegeEnabled   = 0x00000002
	tokenAdjustPrivilege = 0x0020
	tokenQuery           = 0x0008
	errNotAllAssigned    = syscall.Errno(1300)
)

const rebootMessage = "Purser is restarting this computer to complete the installation of " +
	"updates for Microsoft Defender for Endpoint. Please save your work."

// Reboot orders a planned, logged restart after the warning delay. It
// returns agent.ErrRebootOrdered once Windows has accepted the order (or is
// already shutting down): the agent then waits for the shutdown to stop it,
// and resumes from its journal after the boot.
func (e *Executor) Reboot() error {
	if err := need(procLookupPrivilegeValueW, procAdjustTokenPrivileges, procInitiateSystemShutdownExW); err != nil {
		return err
	}
	if err := enablePrivilege("SeShutdownPrivilege"); err != nil {
		return fmt.Errorf("cannot reboot: %v", err)
	}
	msg, _ := utf16Ptr(rebootMessage)
	delay := uint32(e.opts.RebootDelay.Seconds())
	// Applications are closed without asking: nobody may be there to answer.
	r, _, errno := procInitiateSystemShutdownExW.Call(0, uintptr(unsafe.Pointer(msg)), uintptr(delay),
		boolArg(true), boolArg(true), shutdownReason)
	if r == 0 {
		err := lastError(errno)
		if err == errShutdownInProgress || err == errShutdownScheduled {
			return agent.ErrRebootOrdered // already on its way down
		}
		return fmt.Errorf("InitiateSystemShutdownEx: %v", err)
	}
	return agent.ErrRebootOrdered
}

// luidAndAttributes and tokenPrivileges are TOKEN_PRIVILEGES with one
// entry (the LUID is two DWORDs: 4-byte aligned on both architectures).
type luidAndAttributes struct {
	lowPart    uint32
	highPart   int32
	attributes uint32
}

type tokenPrivileges struct {
	count      uint32
	privileges [1]luidAndAttributes
}

// enablePrivilege enables a privilege the process token holds (SYSTEM and
// administrators hold SeShutdownPrivilege, disabled).
func enablePrivilege(name string) error {
	p, err := syscall.GetCurrentProcess()
	if err != nil {
		return err
	}
	var token syscall.Token
	if err := syscall.OpenProcessToken(p, tokenAdjustPrivilege|tokenQuery, &token); err != nil {
		return fmt.Errorf("OpenProcessToken: %v", err)
	}
	defer token.Close()
	n, err := utf16Ptr(name)
	if err != nil {
		return err
	}
	var tp tokenPrivileges
	tp.count = 1
	tp.privileges[0].attributes = sePrivilegeEnabled
	r, _, e := procLookupPrivilegeValueW.Call(0, uintptr(unsafe.Pointer(n)), uintptr(unsafe.Pointer(&tp.privileges[0])))
	if r == 0 {
		return fmt.Errorf("LookupPrivilegeValue %s: %v", name, lastError(e))
	}
	r, _, e = procAdjustTokenPrivileges.Call(uintptr(token), 0, uintptr(unsafe.Pointer(&tp)), 0, 0, 0)
	if r == 0 {
		return fmt.Errorf("AdjustTokenPrivileges %s: %v", name, lastError(e))
	}
	// It succeeds without enabling a privilege the token lacks.
	if e == errNotAllAssigned {
		return fmt.Errorf("this account does not hold %s", name)
	}
	return nil
}
