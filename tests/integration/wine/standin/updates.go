//go:build windows

package main

// wusa.exe and servicing's work at a restart.
//
// An update package (.msu) of this stand-in is a text file of key=value
// lines, which the test uploads as the plan's artifact:
//
//	kb=KB4074598            the update it installs
//	applies-to=6.1 amd64    the Windows version and architecture it is for
//	restart=required        staged until the next restart (wusa ends 3010),
//	                        or "none": in effect at once (wusa ends 0)
//	result=0x80070643       optional: wusa fails with this code, installing nothing
//
// wusa answers as the real one: 0 installed, 3010 installed and waiting for
// a restart, 0x00240006 already installed, 0x80240017 not applicable to
// this machine (another Windows version or architecture). It keeps what it
// installs where Windows does: a package in the Component Based Servicing
// store (HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based
// Servicing\Packages\Package_for_KB<n>~31bf3856ad364e35~<arch>~~<ver>.1.0),
// CurrentState 0x70 when installed; a package waiting for a restart is
// 0x60 (install pending) with the RebootPending key beside Packages, which
// is what the agent reads for its inventory. At the restart,
// TrustedInstaller.exe takes pending packages into effect.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

const (
	cbsKey          = `SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing`
	cbsPackagesKey  = cbsKey + `\Packages`
	cbsRebootKey    = cbsKey + `\RebootPending`
	cbsInstalled    = 0x70
	cbsPermanent    = 0x80
	cbsInstallPend  = 0x60
	cbsUninstallPnd = 0x05

	exitRebootRequired = 3010
	wuAlreadyInstalled = 0x00240006
	wuNotApplicable    = 0x80240017
	errInvalidArg      = 0x80070057
	errInvalidData     = 0x8007000D
	errFileNotFound    = 0x80070002
)

type msuPackage struct {
	KB, Version, Arch string
	Restart           bool
	Result            string
}

func readMSU(path string) (msuPackage, error) {
	var p msuPackage
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		switch strings.TrimSpace(k) {
		case "kb":
			p.KB = strings.ToUpper(strings.TrimSpace(v))
		case "applies-to":
			f := strings.Fields(v)
			if len(f) == 2 {
				p.Version, p.Arch = f[0], f[1]
			}
		case "restart":
			p.Restart = strings.TrimSpace(v) == "required"
		case "result":
			p.Result = strings.TrimSpace(v)
		}
	}
	if !strings.HasPrefix(p.KB, "KB") || p.Version == "" {
		return p, fmt.Errorf("%s is not an update package (no kb= or applies-to=)", path)
	}
	return p, nil
}

// cbsPackages lists the servicing store's packages of kb with their state.
func cbsPackages(kb string) map[string]uint32 {
	out := map[string]uint32{}
	k, err := openKey(cbsPackagesKey)
	if err != nil {
		return out
	}
	names, _ := k.subkeys()
	k.Close()
	prefix := strings.ToLower("Package_for_" + kb + "~")
	for _, n := range names {
		if kb != "" && !strings.HasPrefix(strings.ToLower(n), prefix) {
			continue
		}
		pk, err := openKey(cbsPackagesKey + `\` + n)
		if err != nil {
			continue
		}
		if s, err := pk.dword("CurrentState"); err == nil {
			out[n] = s
		}
		pk.Close()
	}
	return out
}

// kbInEffect: an installed (or permanent) package of kb.
func kbInEffect(kb string) bool {
	for _, s := range cbsPackages(kb) {
		if s == cbsInstalled || s == cbsPermanent {
			return true
		}
	}
	return false
}

func wusa(args []string) int {
	var msu string
	quiet, norestart := false, false
	for _, a := range args {
		switch strings.ToLower(a) {
		case "/quiet":
			quiet = true
		case "/norestart":
			norestart = true
		default:
			if strings.HasPrefix(a, "/") || msu != "" {
				notef("wusa: unknown option %q", a)
				return hresult(errInvalidArg)
			}
			msu = a
		}
	}
	switch {
	case msu == "":
		notef("wusa: no package named")
		return hresult(errInvalidArg)
	case !quiet:
		// The real one would open its window and wait for someone.
		notef("wusa: without /quiet it would wait for a user")
		return 1223 // ERROR_CANCELLED
	case !norestart:
		// The real one would restart the machine by itself.
		notef("wusa: without /norestart it would restart the machine")
		return hresult(errInvalidArg)
	case !strings.HasSuffix(strings.ToLower(msu), ".msu"):
		notef("wusa: %s is not an .msu package", msu)
		return hresult(errInvalidArg)
	}
	if _, err := os.Stat(msu); err != nil {
		notef("wusa: %v", err)
		return hresult(errFileNotFound)
	}
	p, err := readMSU(msu)
	if err != nil {
		notef("wusa: %v", err)
		return hresult(errInvalidData)
	}
	if p.Result != "" {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(p.Result), "0x"), 16, 32)
		if err != nil {
			notef("wusa: bad result %q", p.Result)
			return hresult(errInvalidData)
		}
		notef("wusa: %s fails with 0x%08X as the package says", p.KB, n)
		return hresult(uint32(n))
	}
	if p.Version != osVersion() || p.Arch != machineArch() {
		notef("wusa: %s is for Windows %s %s, not this %s %s: not applicable", p.KB, p.Version, p.Arch,
			osVersion(), machineArch())
		return hresult(wuNotApplicable)
	}
	for _, s := range cbsPackages(p.KB) {
		switch s {
		case cbsInstalled, cbsPermanent:
			notef("wusa: %s is already installed", p.KB)
			return hresult(wuAlreadyInstalled)
		case cbsInstallPend:
			notef("wusa: %s is installed and waits for a restart", p.KB)
			return exitRebootRequired
		}
	}
	name := fmt.Sprintf("Package_for_%s~31bf3856ad364e35~%s~~%s.1.0", p.KB, p.Arch, p.Version)
	k, err := createKey(cbsPackagesKey + `\` + name)
	if err != nil {
		notef("wusa: %v", err)
		return 1
	}
	defer k.Close()
	state := uint32(cbsInstalled)
	if p.Restart {
		state = cbsInstallPend
	}
	for _, err := range []error{
		k.setString("InstallClient", "WUSA"),
		k.setString("InstallLocation", msu),
		k.setString("InstallName", name+".mum"),
		k.setDWORD("CurrentState", state),
	} {
		if err != nil {
			notef("wusa: %v", err)
			return 1
		}
	}
	if !p.Restart {
		notef("wusa: %s installed", p.KB)
		return 0
	}
	if rk, err := createKey(cbsRebootKey); err == nil {
		rk.Close()
	} else {
		notef("wusa: %v", err)
		return 1
	}
	notef("wusa: %s staged; it takes effect at the next restart", p.KB)
	return exitRebootRequired
}

// finishUpdates is servicing's work at a restart: pending packages take
// effect (install pending: installed; uninstall pending: gone), and the
// restart is no longer pending.
func finishUpdates(args []string) int {
	var done []string
	for name, s := range cbsPackages("") {
		path := cbsPackagesKey + `\` + name
		switch s {
		case cbsInstallPend:
			k, err := createKey(path)
			if err != nil {
				notef("servicing: %v", err)
				return 1
			}
			err = k.setDWORD("CurrentState", cbsInstalled)
			k.Close()
			if err != nil {
				notef("servicing: %v", err)
				return 1
			}
			done = append(done, "installed "+name)
		case cbsUninstallPnd:
			if err := deleteKey(path); err != nil {
				notef("servicing: %v", err)
				return 1
			}
			done = append(done, "removed "+name)
		}
	}
	if err := deleteKey(cbsRebootKey); err != nil {
		notef("servicing: %v", err)
		return 1
	}
	if len(done) == 0 {
		notef("servicing: nothing pending")
	} else {
		notef("servicing: %s", strings.Join(done, "; "))
	}
	return 0
}
