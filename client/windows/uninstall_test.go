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
