package windows

import (
	"encoding/base64"
	"strings"
	"unicode/utf16"
)

// MMA is configured through its COM object AgentConfigManager.MgmtSvcCfg,
// from the 64-bit PowerShell 2.0 every supported Windows has (the object is
// registered for MMA's own bitness). The script arrives as -EncodedCommand;
// the workspace ID, key, cloud type and proxy arrive in environment
// variables, so the key is never on a command line (process listings,
// audit events 4688). Each script ends by printing one line
// "PURSER-RESULT: <word> [detail]" that mmaReply reads.

// Environment variables the scripts read.
const (
	envWorkspaceID  = "PURSER_WORKSPACE_ID"
	envWorkspaceKey = "PURSER_WORKSPACE_KEY"
	envCloudType    = "PURSER_AZURE_CLOUD_TYPE"
	envProxy        = "PURSER_PROXY"
)

type mmaOp string

const (
	mmaAddWorkspace    mmaOp = "add-workspace"
	mmaRemoveWorkspace mmaOp = "remove-workspace"
	mmaCheckWorkspace  mmaOp = "check-workspace"
	mmaSetProxy        mmaOp = "set-proxy"
)

// mmaPrelude opens the configuration object, or says MMA is not there:
// the ProgID is looked up first, so that any other failure to create the
// object is reported as what it is.
const mmaPrelude = `$ErrorActionPreference = 'Stop'
function Say([string]$what) { [Console]::Out.WriteLine('PURSER-RESULT: ' + $what) }
trap { Say ('ERROR ' + ($_.Exception.Message -replace '\s+', ' ')); exit 1 }
if ($null -eq [Type]::GetTypeFromProgID('AgentConfigManager.MgmtSvcCfg')) { Say 'NO-MMA'; exit 0 }
$cfg = New-Object -ComObject 'AgentConfigManager.MgmtSvcCfg'
$id = $env:PURSER_WORKSPACE_ID
function Find-Workspace([string]$id) {
  try { return $cfg.GetCloudWorkspace($id) } catch { return $null }
}
`

var mmaBodies = map[mmaOp]string{
	// Added only when missing: an MMA installed before may report to
	// other workspaces, and ours may be there already.
	mmaAddWorkspace: `if ($null -ne (Find-Workspace $id)) { Say 'ALREADY'; exit 0 }
$key = $env:PURSER_WORKSPACE_KEY
$cloud = [int]$env:PURSER_AZURE_CLOUD_TYPE
if ($null -ne ($cfg | Get-Member -Name AddCloudWorkspaceWithAzureCloudType)) {
  $cfg.AddCloudWorkspaceWithAzureCloudType($id, $key, $cloud)
} elseif ($cloud -eq 0) {
  $cfg.AddCloudWorkspace($id, $key)
} else {
  Say 'ERROR this MMA version cannot report to the US Government cloud (no AddCloudWorkspaceWithAzureCloudType)'; exit 1
}
$cfg.ReloadConfiguration()
Say 'ADDED'
`,
	mmaRemoveWorkspace: `if ($null -eq (Find-Workspace $id)) { Say 'NOT-FOUND'; exit 0 }
$cfg.RemoveCloudWorkspace($id)
$cfg.ReloadConfiguration()
Say 'REMOVED'
`,
	mmaCheckWorkspace: `$ws = Find-Workspace $id
if ($null -eq $ws) {
  $others = 0
  try { $others = @($cfg.GetCloudWorkspaces()).Count } catch { }
  Say ('NOT-FOUND ' + $others); exit 0
}
Say ('FOUND ' + (([string]$ws.ConnectionStatusText) -replace '\s+', ' '))
`,
	// SetProxyInfo(url, user, password); empty strings clear it.
	mmaSetProxy: `if ($null -eq ($cfg | Get-Member -Name SetProxyInfo)) { Say 'ERROR this MMA version has no SetProxyInfo'; exit 1 }
$cfg.SetProxyInfo([string]$env:PURSER_PROXY, '', '')
Say 'PROXY-SET'
`,
}

// mmaScript is the PowerShell text of op. Its first line names the
// operation, for whoever reads it in a process listing.
func mmaScript(op mmaOp) string {
	return "# purser: " + string(op) + "\n" + mmaPrelude + mmaBodies[op]
}

// encodedCommand is a script as powershell.exe -EncodedCommand takes it:
// UTF-16LE, in base64.
func encodedCommand(script string) string {
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i] = byte(c)
		b[2*i+1] = byte(c >> 8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// powerShellArgs run an encoded script: no profile, no prompt, and no
// reading of standard input (PowerShell 2.0 waits on it otherwise).
func powerShellArgs(script string) []string {
	return []string{"-NoLogo", "-NoProfile", "-NonInteractive", "-InputFormat", "None",
		"-ExecutionPolicy", "Bypass", "-EncodedCommand", encodedCommand(script)}
}

// mmaReply is a script's result line: a word and its detail.
type mmaReply struct {
	Word   string
	Detail string
}

// parseMMAReply finds the last result line of a script's output.
func parseMMAReply(output string) (mmaReply, bool) {
	const tag = "PURSER-RESULT:"
	lines := strings.Split(output, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, tag) {
			continue
		}
		rest := strings.TrimSpace(line[len(tag):])
		word, detail := rest, ""
		if sp := strings.IndexByte(rest, ' '); sp >= 0 {
			word, detail = rest[:sp], strings.TrimSpace(rest[sp+1:])
		}
		return mmaReply{Word: word, Detail: detail}, word != ""
	}
	return mmaReply{}, false
}
