//go:build windows

package main

// The Microsoft Monitoring Agent: its IExpress package, its installer, its
// configuration object as the agent's PowerShell scripts reach it, and the
// services it brings (HealthService, and Sense, the sensor, which runs only
// with a Defender workspace, KB3080149 and TLS support for .NET: .NET 4.5
// or KB3154518, as client/sim/machine.go's recompute says).
//
// Where it keeps things:
//   - files: C:\Program Files\Microsoft Monitoring Agent\Agent\
//     (MonitoringHost.exe, HealthService.exe, MsSenseS.exe);
//   - services HealthService and Sense, automatically started;
//   - the Uninstall entry "Microsoft Monitoring Agent" (an MSI product);
//   - the configuration object's ProgID, AgentConfigManager.MgmtSvcCfg,
//     under HKLM\SOFTWARE\Classes;
//   - workspaces under HKLM\SOFTWARE\Purser\WineStandIn\Workspaces\<id>: the
//     key's SHA-256 (the key itself only reaches setup.exe's command line
//     and the configuration script's environment), the cloud type;
//   - MMA's own proxy in HKLM\SOFTWARE\Purser\WineStandIn, value MMAProxy.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf16"
)

const (
	mmaDir            = `C:\Program Files\Microsoft Monitoring Agent\Agent`
	mmaProduct        = "Microsoft Monitoring Agent"
	mmaProductCode    = "{742D699D-56EB-49CC-A04A-317DE01F31CD}"
	mmaUninstallKey   = `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\` + mmaProductCode
	mmaProgIDKey      = `SOFTWARE\Classes\AgentConfigManager.MgmtSvcCfg`
	workspacesKey     = stateKey + `\Workspaces`
	healthServiceName = "HealthService"
	senseName         = "Sense"
	dotnet4FullKey    = `SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full`
	connectedText     = "The Microsoft Monitoring Agent successfully connected to the Microsoft Operations Management Suite service."

	errInstallFailure    = 1603 // ERROR_INSTALL_FAILURE
	errInvalidCommandLn  = 1639 // ERROR_INVALID_COMMAND_LINE
	errProductVersion    = 1638 // ERROR_PRODUCT_VERSION: already installed
	errInstallUserExit   = 1602
	dotnet45MinRelease   = 378389
	azureCloudCommercial = 0
)

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// mmaExtract is the IExpress package: /c /t:<dir> unpacks setup.exe into
// dir without running it.
func mmaExtract(args []string) int {
	extractOnly, dir := false, ""
	for _, a := range args {
		switch l := strings.ToLower(a); {
		case l == "/c":
			extractOnly = true
		case strings.HasPrefix(l, "/t:"):
			dir = strings.Trim(a[3:], `"`)
		case l == "/q":
		default:
			notef("MMASetup: unknown option %q", a)
			return errInvalidCommandLn
		}
	}
	if !extractOnly || dir == "" {
		notef("MMASetup: the stand-in only unpacks (/c /t:<dir>)")
		return errInvalidCommandLn
	}
	if !filepath.IsAbs(dir) {
		notef("MMASetup: /t: needs a full path, not %q", dir)
		return errInvalidCommandLn
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		notef("MMASetup: %v", err)
		return errInstallFailure
	}
	self, _ := os.Executable()
	if err := copyFile(self, filepath.Join(dir, "setup.exe")); err != nil {
		notef("MMASetup: %v", err)
		return errInstallFailure
	}
	notef("MMASetup: unpacked setup.exe into %s", dir)
	return 0
}

// mmaInstalled: the configuration object is registered.
func mmaInstalled() bool { return keyExists(mmaProgIDKey) }

func keySHA(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

func workspaceIDs() []string {
	k, err := openKey(workspacesKey)
	if err != nil {
		return nil
	}
	defer k.Close()
	ids, _ := k.subkeys()
	return ids
}

func hasWorkspace(id string) bool {
	for _, w := range workspaceIDs() {
		if strings.EqualFold(w, id) {
			return true
		}
	}
	return false
}

func addWorkspace(id, key string, cloud uint32) error {
	k, err := createKey(workspacesKey + `\` + id)
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.setString("KeySHA256", keySHA(key)); err != nil {
		return err
	}
	return k.setDWORD("AzureCloudType", cloud)
}

// senseCanRun: the sensor's conditions, as the sensor itself finds them
// at start.
func senseCanRun() error {
	var missing []string
	if !mmaInstalled() {
		missing = append(missing, "MMA")
	}
	if len(workspaceIDs()) == 0 {
		missing = append(missing, "a Defender for Endpoint workspace")
	}
	if !kbInEffect("KB3080149") {
		missing = append(missing, "KB3080149 (telemetry)")
	}
	if !kbInEffect("KB3154518") && !dotnet45() {
		missing = append(missing, "TLS support (.NET 4.5 or KB3154518)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return nil
}

func dotnet45() bool {
	k, err := openKey(dotnet4FullKey)
	if err != nil {
		return false
	}
	defer k.Close()
	rel, err := k.dword("Release")
	return err == nil && rel >= dotnet45MinRelease
}

// reconcileSense starts or stops the sensor after a configuration change
// (MMA applies its configuration and deploys or withdraws the sensor).
func reconcileSense() {
	state := serviceState(senseName)
	if state == 0 {
		return
	}
	want := senseCanRun() == nil
	switch {
	case want && state != serviceRunning:
		if s, err := startService(senseName); err != nil || s != serviceRunning {
			notef("MMA: the sensor did not start (state %d, %v)", s, err)
		}
	case !want && state == serviceRunning:
		if err := stopService(senseName); err != nil {
			notef("MMA: %v", err)
		}
	}
}

// mmaSetup is MMA's setup.exe with Windows Installer properties.
func mmaSetup(args []string) int {
	props := map[string]string{}
	quiet := false
	for _, a := range args {
		if strings.EqualFold(a, "/qn") || strings.EqualFold(a, "/quiet") {
			quiet = true
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok || strings.HasPrefix(a, "/") {
			notef("setup: unknown option %q", a)
			return errInvalidCommandLn
		}
		props[strings.ToUpper(k)] = v
	}
	switch {
	case !quiet:
		notef("setup: without /qn it would wait for a user")
		return errInstallUserExit
	case props["ACCEPTENDUSERLICENSEAGREEMENT"] != "1":
		notef("setup: the licence is not accepted (AcceptEndUserLicenseAgreement=1)")
		return errInstallFailure
	case mmaInstalled():
		notef("setup: %s is already installed", mmaProduct)
		return errProductVersion
	}
	id, key := props["OPINSIGHTS_WORKSPACE_ID"], props["OPINSIGHTS_WORKSPACE_KEY"]
	cloud := uint32(azureCloudCommercial)
	if props["ADD_OPINSIGHTS_WORKSPACE"] == "1" {
		if id == "" || key == "" {
			notef("setup: ADD_OPINSIGHTS_WORKSPACE=1 needs OPINSIGHTS_WORKSPACE_ID and OPINSIGHTS_WORKSPACE_KEY")
			return errInstallFailure
		}
		if c, ok := props["OPINSIGHTS_WORKSPACE_AZURE_CLOUD_TYPE"]; ok {
			n, err := strconv.ParseUint(c, 10, 32)
			if err != nil || n > 1 {
				notef("setup: OPINSIGHTS_WORKSPACE_AZURE_CLOUD_TYPE=%s is not 0 or 1", c)
				return errInstallFailure
			}
			cloud = uint32(n)
		}
	}
	// Today's MMA is SHA-2 signed: Windows 7 / 2008 R2 cannot verify it
	// without KB4474419.
	if osVersion() == "6.1" && !kbInEffect("KB4474419") {
		notef("setup: the installer's SHA-2 signature cannot be verified (KB4474419 is missing)")
		return errInstallFailure
	}
	if err := installMMA(); err != nil {
		notef("setup: %v", err)
		return errInstallFailure
	}
	if props["ADD_OPINSIGHTS_WORKSPACE"] == "1" {
		if err := addWorkspace(id, key, cloud); err != nil {
			notef("setup: %v", err)
			return errInstallFailure
		}
	}
	if s, err := startService(healthServiceName); err != nil || s != serviceRunning {
		notef("setup: HealthService did not start (state %d, %v)", s, err)
		return errInstallFailure
	}
	reconcileSense()
	notef("setup: %s installed, workspace %q (cloud %d), sensor state %d", mmaProduct, id, cloud,
		serviceState(senseName))
	return 0
}

func installMMA() error {
	if err := os.MkdirAll(mmaDir, 0o755); err != nil {
		return err
	}
	self, _ := os.Executable()
	for _, f := range []string{"MonitoringHost.exe", "HealthService.exe", "MsSenseS.exe"} {
		if err := copyFile(self, filepath.Join(mmaDir, f)); err != nil {
			return err
		}
	}
	u, err := createKey(mmaUninstallKey)
	if err != nil {
		return err
	}
	defer u.Close()
	for _, kv := range [][2]string{
		{"DisplayName", mmaProduct},
		{"DisplayVersion", "10.20.18067.0"},
		{"Publisher", "Microsoft Corporation"},
		{"InstallLocation", mmaDir + `\`},
		{"UninstallString", "MsiExec.exe /X" + mmaProductCode},
	} {
		if err := u.setString(kv[0], kv[1]); err != nil {
			return err
		}
	}
	p, err := createKey(mmaProgIDKey + `\CLSID`)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.setString("", "{177D9F50-8A1B-4F43-94E9-5B64E6B0E3C2}"); err != nil {
		return err
	}
	if err := createService(healthServiceName, mmaProduct, `"`+mmaDir+`\HealthService.exe"`); err != nil {
		return err
	}
	return createService(senseName, "Windows Defender Advanced Threat Protection Service",
		`"`+mmaDir+`\MsSenseS.exe"`)
}

// The agent's configuration scripts (client/windows/mma_script.go): each
// names its operation on its first line ("# purser: add-workspace") and
// prints one "PURSER-RESULT: <word> [detail]" line. The stand-in checks
// that the script calls what the operation needs, carries it out on the
// stand-in MMA with the values the script reads from its environment, and
// prints what the script would.
var mmaCalls = map[string][]string{
	"add-workspace":    {"AddCloudWorkspaceWithAzureCloudType", "AddCloudWorkspace", "ReloadConfiguration", "$env:PURSER_WORKSPACE_KEY"},
	"remove-workspace": {"RemoveCloudWorkspace", "ReloadConfiguration"},
	"check-workspace":  {"GetCloudWorkspace", "ConnectionStatusText"},
	"set-proxy":        {"SetProxyInfo", "$env:PURSER_PROXY"},
}

func powerShell(args []string) int {
	want := []string{"-NoLogo", "-NoProfile", "-NonInteractive", "-InputFormat", "None",
		"-ExecutionPolicy", "Bypass", "-EncodedCommand"}
	if len(args) != len(want)+1 {
		notef("powershell: the stand-in runs only -EncodedCommand scripts, got %q", args)
		return 1
	}
	for i, w := range want {
		if !strings.EqualFold(args[i], w) {
			notef("powershell: argument %d is %q, expected %q", i+1, args[i], w)
			return 1
		}
	}
	b, err := base64.StdEncoding.DecodeString(args[len(args)-1])
	if err != nil || len(b)%2 != 0 {
		notef("powershell: -EncodedCommand is not base64 UTF-16LE")
		return 1
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	script := string(utf16.Decode(u))
	first, _, _ := strings.Cut(script, "\n")
	op := strings.TrimSpace(strings.TrimPrefix(first, "# purser:"))
	calls, ok := mmaCalls[op]
	if !ok || !strings.Contains(script, "New-Object -ComObject 'AgentConfigManager.MgmtSvcCfg'") {
		notef("powershell: not one of the agent's MMA scripts (first line %q)", first)
		return 1
	}
	for _, c := range calls {
		if !strings.Contains(script, c) {
			notef("powershell: the %s script does not call %s", op, c)
			return 1
		}
	}
	say := func(s string) { fmt.Println("PURSER-RESULT: " + s) }
	fail := func(err error) int {
		say("ERROR " + err.Error())
		record("powershell " + op + ": " + err.Error())
		return 1
	}
	if !mmaInstalled() {
		say("NO-MMA")
		record("powershell " + op + ": NO-MMA")
		return 0
	}
	id := os.Getenv("PURSER_WORKSPACE_ID")
	result := ""
	switch op {
	case "add-workspace":
		if hasWorkspace(id) {
			result = "ALREADY"
			break
		}
		cloud, err := strconv.ParseUint(os.Getenv("PURSER_AZURE_CLOUD_TYPE"), 10, 32)
		if err != nil {
			return fail(fmt.Errorf("Cannot convert value to type System.Int32"))
		}
		if err := addWorkspace(id, os.Getenv("PURSER_WORKSPACE_KEY"), uint32(cloud)); err != nil {
			return fail(err)
		}
		reconcileSense() // ReloadConfiguration
		result = "ADDED"
	case "remove-workspace":
		if !hasWorkspace(id) {
			result = "NOT-FOUND"
			break
		}
		if err := deleteKey(workspacesKey + `\` + id); err != nil {
			return fail(err)
		}
		reconcileSense() // ReloadConfiguration
		result = "REMOVED"
	case "check-workspace":
		if !hasWorkspace(id) {
			result = fmt.Sprintf("NOT-FOUND %d", len(workspaceIDs()))
			break
		}
		result = "FOUND " + connectedText
	case "set-proxy":
		k, err := createKey(stateKey)
		if err != nil {
			return fail(err)
		}
		err = k.setString("MMAProxy", os.Getenv("PURSER_PROXY"))
		k.Close()
		if err != nil {
			return fail(err)
		}
		result = "PROXY-SET"
	}
	say(result)
	record(fmt.Sprintf("powershell %s(%s): %s", op, id, result))
	return 0
}
