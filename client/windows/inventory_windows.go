package windows

import (
	"os"
	"strings"
	"syscall"

	pb "purserpb/v1"
)

// inventoryServices are the services every inventory reports: the sensor,
// Defender AV and MMA's HealthService.
var inventoryServices = []string{"sense", "windefend", "healthservice"}

const currentVersionKey = `SOFTWARE\Microsoft\Windows NT\CurrentVersion`

// Inventory is what the machine is now. A part that cannot be read is left
// empty and logged.
func (e *Executor) Inventory() *pb.Inventory {
	log := e.opts.Log
	inv := &pb.Inventory{Os: &pb.OsFacts{}}
	if h, err := os.Hostname(); err == nil {
		inv.Hostname = h
	} else {
		log.Warningf("inventory: hostname: %v", err)
	}
	if v, err := rtlGetVersion(); err == nil {
		t := productType(v.productType)
		inv.Os.Version = ntVersion(v.major, v.minor, v.build)
		inv.Os.ServicePack = int32(v.servicePackMajor)
		inv.Os.ProductType = t
		inv.Os.Product = osProduct(v.major, v.minor, t)
	} else {
		log.Warningf("inventory: OS version: %v", err)
	}
	if a, err := nativeProcessorArchitecture(); err == nil {
		inv.Os.Arch = osArch(a)
	} else {
		log.Warningf("inventory: architecture: %v", err)
	}
	inv.Os.Edition = editionID()
	pending := false
	if kbs, err := e.installedUpdates(); err == nil {
		inv.InstalledKbs = kbs.Installed()
		pending = kbs.AnyPending()
	} else {
		log.Warningf("inventory: %v", err)
	}
	inv.DotnetVersion = e.dotnetVersion()
	for _, name := range inventoryServices {
		st, err := queryService(name)
		if err != nil {
			log.Warningf("inventory: %v", err)
			continue
		}
		inv.Services = append(inv.Services, &pb.ServiceState{Name: name, Status: st.Status})
	}
	inv.PendingReboot = pending || rebootFlagged()
	return inv
}

// editionID is Windows' EditionID ("Enterprise", "Professional",
// "ServerStandard", ...), from the 64-bit view.
func editionID() string {
	k, err := openKey(hkeyLocalMachine, currentVersionKey, syscall.KEY_QUERY_VALUE)
	if err != nil {
		return ""
	}
	defer k.Close()
	s, _ := k.str("EditionID")
	return strings.TrimSpace(s)
}

// dotnetVersion is the highest .NET Framework installed: 4.x by its
// Release, else 3.5, 3.0 or 2.0 by their Install flag; "" when none.
func (e *Executor) dotnetVersion() string {
	if k, err := openKey(hkeyLocalMachine, dotnet4FullKey, syscall.KEY_QUERY_VALUE); err == nil {
		defer k.Close()
		if rel, err := k.dword("Release"); err == nil {
			return dotnet4Version(rel)
		}
		if inst, err := k.dword("Install"); err == nil && inst == 1 {
			return "4.0"
		}
	}
	for _, old := range []struct{ key, version string }{
		{dotnet35Key, "3.5"}, {dotnet30Key, "3.0"}, {dotnet20Key, "2.0"},
	} {
		k, err := openKey(hkeyLocalMachine, old.key, syscall.KEY_QUERY_VALUE)
		if err != nil {
			continue
		}
		inst, err := k.dword("Install")
		k.Close()
		if err == nil && inst == 1 {
			return old.version
		}
	}
	return ""
}

// rebootFlagged: Windows says a reboot is pending, where servicing, Windows
// Update and file operations deferred to the next boot record it.
func rebootFlagged() bool {
	if keyExists(hkeyLocalMachine, `SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending`) ||
		keyExists(hkeyLocalMachine, `SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired`) {
		return true
	}
	k, err := openKey(hkeyLocalMachine, `SYSTEM\CurrentControlSet\Control\Session Manager`, syscall.KEY_QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	_, b, err := k.value("PendingFileRenameOperations")
	if err != nil {
		return false
	}
	return utf16String(b) != ""
}
