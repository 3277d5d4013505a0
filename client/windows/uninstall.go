package windows

import (
	"regexp"
	"strings"
)

// Products are found in the Uninstall keys, under HKLM, in both registry
// views (a 32-bit product is listed in the 32-bit one).
const uninstallKey = `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`

var productCodePattern = regexp.MustCompile(`\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}`)

// productCodeOf is the Windows Installer product code of an Uninstall
// entry: its key name for an MSI product, or the code its uninstall
// command names (MsiExec.exe /X{...} or /I{...}); "" when it has none.
func productCodeOf(keyName, uninstallString string) string {
	if productCodePattern.FindString(keyName) == keyName && keyName != "" {
		return strings.ToUpper(keyName)
	}
	if strings.Contains(strings.ToLower(uninstallString), "msiexec") {
		return strings.ToUpper(productCodePattern.FindString(uninstallString))
	}
	return ""
}

// sameProduct: a DisplayName names the product the plan asks for, whatever
// its case and surrounding blanks.
func sameProduct(displayName, product string) bool {
	return displayName != "" && strings.EqualFold(strings.TrimSpace(displayName), strings.TrimSpace(product))
}

// uninstallArgs are msiexec's arguments that remove a product silently,
// leaving the reboot to the plan.
func uninstallArgs(code string) []string {
	return []string{"/x", code, "/qn", "/norestart"}
}
