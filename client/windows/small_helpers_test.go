package windows

import (
	"reflect"
	"testing"
)

func TestProductCodeOf(t *testing.T) {
	const code = "{8A7F2C51-4C7D-4BFD-9014-91D11F24AAE2}"
	cases := []struct{ key, uninstall, want string }{
		{code, "MsiExec.exe /X" + code, code},
		{"{8a7f2c51-4c7d-4bfd-9014-91d11f24aae2}", "", code},
		{"Microsoft Monitoring Agent", "MsiExec.exe /I" + code, code},
		{"SomeApp", `"C:\Program Files\SomeApp\uninst.exe" /S`, ""},
		{"SomeApp", `C:\x\uninst.exe ` + code, ""},
	}
	for _, c := range cases {
		if got := productCodeOf(c.key, c.uninstall); got != c.want {
			t.Errorf("productCodeOf(%q, %q) = %q, want %q", c.key, c.uninstall, got, c.want)
		}
	}
	if !sameProduct(" microsoft monitoring agent", "Microsoft Monitoring Agent") || sameProduct("", "") ||
		sameProduct("Microsoft Monitoring Agent Extra", "Microsoft Monitoring Agent") {
		t.Error("sameProduct")
	}
	if got := uninstallArgs(code); !reflect.DeepEqual(got, []string{"/x", code, "/qn", "/norestart"}) {
		t.Errorf("uninstallArgs = %q", got)
	}
}

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

func TestMergeEnv(t *testing.T) {
	base := []string{"=C:=C:\\dir", "Path=C:\\Windows", "PURSER_PROXY=old", "TEMP=C:\\Temp"}
	got := mergeEnv(base, []string{"PURSER_PROXY=", "PATH=D:\\x"})
	want := []string{"=C:=C:\\dir", "TEMP=C:\\Temp", "PURSER_PROXY=", "PATH=D:\\x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestJobLimitInfoSize(t *testing.T) {
	// sizeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION) from the Windows SDK.
	if jobLimitInfoSize(8) != 144 || jobLimitInfoSize(4) != 112 {
		t.Errorf("sizes %d and %d, want 144 (x64) and 112 (x86)", jobLimitInfoSize(8), jobLimitInfoSize(4))
	}
}
