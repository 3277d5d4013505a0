package windows

import (
	"strings"
	"testing"
)

func TestNativePath(t *testing.T) {
	const windir = `C:\Windows`
	cases := []struct {
		path  string
		wow64 bool
		want  string
	}{
		{`C:\Windows\System32\wusa.exe`, true, `C:\Windows\Sysnative\wusa.exe`},
		{`c:\windows\system32\drivers\etc\hosts`, true, `C:\Windows\Sysnative\drivers\etc\hosts`},
		{`C:\Windows\System32`, true, `C:\Windows\Sysnative`},
		{`C:\Windows\System32\wusa.exe`, false, `C:\Windows\System32\wusa.exe`},
		{`C:\Windows\System32Extra\x`, true, `C:\Windows\System32Extra\x`},
		{`C:\Program Files\Microsoft Monitoring Agent\Agent\MonitoringHost.exe`, true, `C:\Program Files\Microsoft Monitoring Agent\Agent\MonitoringHost.exe`},
		{`D:\Windows\System32\x`, true, `D:\Windows\System32\x`},
	}
	for _, c := range cases {
		if got := nativePath(c.path, windir, c.wow64); got != c.want {
			t.Errorf("nativePath(%q, %v) = %q, want %q", c.path, c.wow64, got, c.want)
		}
	}
}

func TestSearchPath(t *testing.T) {
	const windir = `C:\Windows`
	files := map[string]bool{
		`C:\Windows\Sysnative\netsh.exe`:      true, // the 64-bit one, as a 32-bit agent reaches it
		`C:\Windows\System32\netsh.exe`:       true, // WOW64's SysWOW64 copy, for a 32-bit agent
		`C:\Tools\run.cmd`:                    true,
		`C:\Tools\plain`:                      true,
		`C:\Tools\both.com`:                   true,
		`C:\Tools\both.exe`:                   true,
		`C:\Program Files\My Tool\tool.exe`:   true,
		`C:\Windows\Sysnative\only64.exe`:     true,
		`C:\Windows\System32\drivers\etc.exe`: true,
	}
	isFile := func(p string) bool { // as Windows: whatever the case
		for f := range files {
			if strings.EqualFold(f, p) {
				return true
			}
		}
		return false
	}
	path := `C:\Windows\system32;relative;;"C:\Program Files\My Tool";C:\Tools\`
	cases := []struct {
		program, pathExt string
		wow64            bool
		want             string
	}{
		{"netsh", "", true, `C:\Windows\Sysnative\netsh.exe`},
		{"netsh", "", false, `C:\Windows\system32\netsh.exe`},
		{"netsh.exe", ".COM;.EXE", true, `C:\Windows\Sysnative\netsh.exe`},
		{"only64", "", true, `C:\Windows\Sysnative\only64.exe`},
		{"only64", "", false, ""},
		{"tool", "", true, `C:\Program Files\My Tool\tool.exe`},
		{"run", ".COM;.EXE;.BAT;.CMD", true, `C:\Tools\run.cmd`},
		{"run", ".EXE", true, ""},
		{"both", "", true, `C:\Tools\both.com`},
		{"both", ".exe;.com", true, `C:\Tools\both.exe`},
		{"plain", "", true, ""}, // no extension: not a program
		{`sub\x`, "", true, ""},
		{`C:x`, "", true, ""},
	}
	for _, c := range cases {
		native := func(d string) string { return nativePath(d, windir, c.wow64) }
		got, err := searchPath(c.program, path, c.pathExt, native, isFile)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("searchPath(%q, %q, wow64 %v) = %q, %v; want %q", c.program, c.pathExt, c.wow64, got, err, c.want)
		}
	}
	// Never the current directory, nor a relative one.
	files[`relative\x.exe`] = true
	if got, err := searchPath("x", path, "", func(d string) string { return d }, isFile); err == nil {
		t.Errorf("found %s in a relative directory", got)
	}
}

func TestSplitPathList(t *testing.T) {
	got := splitPathList(`C:\a;"C:\b;c";;D:\d `)
	want := []string{`C:\a`, `C:\b;c`, "", `D:\d`}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
