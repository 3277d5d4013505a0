package windows

import (
	"bytes"
	"encoding/xml"
	"regexp"
	"sort"
	"strings"
)

// Installed updates are read from the Component Based Servicing store
// (HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based
// Servicing\Packages), the store wusa itself installs into. Chosen over
// WMI (wmic qfe, Win32_QuickFixEngineering) because it needs no process
// and no WMI repository (often damaged on old machines), answers in a
// fraction of a second, exists on stock Windows 7 SP1, and tells an
// installed update from one waiting for a reboot (CurrentState).

// cbsPackagesKey is the CBS package list, under HKLM.
const cbsPackagesKey = `SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages`

var kbNumber = regexp.MustCompile(`(?i)^KB ?([0-9]{5,8})$`)

// NormalizeKB writes an update's name as Windows lists it ("KB4074598"),
// from "kb4074598", "KB 4074598" or "4074598".
func NormalizeKB(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if m := kbNumber.FindStringSubmatch(s); m != nil {
		return "KB" + m[1], true
	}
	if len(s) >= 5 && len(s) <= 8 && strings.Trim(s, "0123456789") == "" {
		return "KB" + s, true
	}
	return "", false
}

// CBS names most update packages after their KB:
// Package_for_KB4474419~31bf3856ad364e35~amd64~~6.1.2.2,
// Package_16_for_KB4474419~..., Package_for_KB2079403_RTM~...
var cbsPackageKB = regexp.MustCompile(`(?i)^Package_(?:[0-9]+_)?for_KB([0-9]+)`)

// kbOfPackage is the KB a CBS package name carries, "" when it names none.
func kbOfPackage(name string) string {
	if m := cbsPackageKB.FindStringSubmatch(name); m != nil {
		return "KB" + m[1]
	}
	return ""
}

// needsManifest: an update package named without its KB (monthly rollups
// on Windows 7 are Package_for_RollupFix~...~7601.24002.1.4): only its
// manifest (%windir%\servicing\Packages\<name>.mum) says which KB it is.
// Feature packages (Microsoft-Windows-...) are not updates.
func needsManifest(name string) bool {
	return strings.HasPrefix(strings.ToLower(name), "package_") && kbOfPackage(name) == ""
}

// kbOfManifest is the KB a package manifest (.mum) declares:
// <assembly><package identifier="KB4074598" ...>.
func kbOfManifest(mum []byte) string {
	mum = bytes.TrimPrefix(mum, []byte("\xef\xbb\xbf"))
	d := xml.NewDecoder(bytes.NewReader(mum))
	d.Strict = false
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		el, ok := tok.(xml.StartElement)
		if !ok || el.Name.Local != "package" {
			continue
		}
		for _, a := range el.Attr {
			if a.Name.Local == "identifier" {
				kb, _ := NormalizeKB(a.Value)
				return kb
			}
		}
		return ""
	}
}

// cbsState is a CBS package's CurrentState.
type cbsState uint32

const (
	cbsUninstallPending cbsState = 0x05
	cbsStaged           cbsState = 0x40
	cbsSuperseded       cbsState = 0x50
	cbsInstallPending   cbsState = 0x60
	cbsInstalled        cbsState = 0x70
	cbsPermanent        cbsState = 0x80
)

// inEffect: the update's code is on the machine now. A superseded update
// was installed and replaced by a later one that contains it; one pending
// uninstall stays until the reboot.
func (s cbsState) inEffect() bool {
	return s == cbsInstalled || s == cbsPermanent || s == cbsSuperseded || s == cbsUninstallPending
}

// waitsForReboot: the package changes at the next reboot.
func (s cbsState) waitsForReboot() bool {
	return s == cbsInstallPending || s == cbsUninstallPending
}

// kbStates collects the states of the packages that make up each update.
type kbStates struct {
	installed map[string]bool
	pending   map[string]bool
}

func newKBStates() *kbStates {
	return &kbStates{installed: map[string]bool{}, pending: map[string]bool{}}
}

// add records one package of kb. An update is installed when any of its
// packages is in effect (the others may target absent language packs).
func (k *kbStates) add(kb string, s cbsState) {
	if kb == "" {
		return
	}
	if s.inEffect() {
		k.installed[kb] = true
	}
	if s.waitsForReboot() {
		k.pending[kb] = true
	}
}

// Installed lists the installed updates, sorted.
func (k *kbStates) Installed() []string {
	out := make([]string, 0, len(k.installed))
	for kb := range k.installed {
		out = append(out, kb)
	}
	sort.Strings(out)
	return out
}

// Has reports whether kb (any spelling NormalizeKB accepts) is installed.
func (k *kbStates) Has(kb string) bool {
	n, ok := NormalizeKB(kb)
	return ok && k.installed[n]
}

// AnyPending reports whether an update waits for a reboot.
func (k *kbStates) AnyPending() bool { return len(k.pending) > 0 }
