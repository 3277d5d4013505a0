// Package windows is the agent's real Windows executor: each plan step's
// typed action carried out by the mechanism an administrator would use on
// Windows 7 SP1, 8.1 and Server 2008 R2 SP1 (wusa, the MMA installer and its
// AgentConfigManager.MgmtSvcCfg object, the service control manager, the
// registry, netsh and WinHTTP, a planned shutdown).
//
// It works the same from a 32-bit agent on 64-bit Windows: the registry is
// read and written in its 64-bit view, and System32 tools and paths are
// reached through %windir%\Sysnative, so nothing lands in the WOW64 copies.
//
// The system calls live in *_windows.go. Everything else (command-line
// quoting, tool output, version tables, the PowerShell text, result
// messages) is plain Go, tested on any OS.
package windows
