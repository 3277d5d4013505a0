package windows

import (
	"reflect"
	"testing"
)

func TestNormalizeKB(t *testing.T) {
	for in, want := range map[string]string{"KB4074598": "KB4074598", "kb4074598": "KB4074598",
		"KB 3080149": "KB3080149", " 4474419 ": "KB4474419"} {
		if got, ok := NormalizeKB(in); !ok || got != want {
			t.Errorf("NormalizeKB(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "KB", "KBabc", "Package_for_KB1", "12"} {
		if got, ok := NormalizeKB(bad); ok {
			t.Errorf("NormalizeKB(%q) = %q, want refused", bad, got)
		}
	}
}

func TestKBOfPackage(t *testing.T) {
	cases := map[string]string{
		"Package_for_KB4474419~31bf3856ad364e35~amd64~~6.1.2.2":                       "KB4474419",
		"Package_16_for_KB4474419~31bf3856ad364e35~amd64~~6.1.2.2":                    "KB4474419",
		"Package_for_KB2079403_RTM~31bf3856ad364e35~amd64~~6.1.1.0":                   "KB2079403",
		"package_for_kb3080149~31bf3856ad364e35~x86~~6.1.1.1":                         "KB3080149",
		"Package_for_RollupFix~31bf3856ad364e35~amd64~~7601.24002.1.4":                "",
		"Microsoft-Windows-Foundation-Package~31bf3856ad364e35~amd64~~6.1.7601.17514": "",
	}
	for name, want := range cases {
		if got := kbOfPackage(name); got != want {
			t.Errorf("kbOfPackage(%s) = %q, want %q", name, got, want)
		}
	}
	if !needsManifest("Package_for_RollupFix~31bf3856ad364e35~amd64~~7601.24002.1.4") {
		t.Error("a rollup package needs its manifest")
	}
	if needsManifest("Microsoft-Windows-Foundation-Package~31bf3856ad364e35~amd64~~6.1.7601.17514") ||
		needsManifest("Package_for_KB4474419~31bf3856ad364e35~amd64~~6.1.2.2") {
		t.Error("feature packages and named updates need no manifest")
	}
}

const rollupManifest = "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n" +
	`<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0" copyright="Copyright (c) Microsoft Corporation. All Rights Reserved.">
  <assemblyIdentity name="Package_for_RollupFix" version="7601.24002.1.4" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35"/>
  <package identifier="KB4074598" releaseType="Security Update" restart="possible">
    <parent buildCompare="EQ" serviceCompare="GE" integrate="separate" disposition="detect"/>
  </package>
</assembly>`

func TestKBOfManifest(t *testing.T) {
	if got := kbOfManifest([]byte(rollupManifest)); got != "KB4074598" {
		t.Errorf("got %q, want KB4074598", got)
	}
	if got := kbOfManifest([]byte(`<assembly><package identifier="Not a KB"/></assembly>`)); got != "" {
		t.Errorf("a non-KB identifier gave %q", got)
	}
	if got := kbOfManifest([]byte("garbage <<<")); got != "" {
		t.Errorf("garbage gave %q", got)
	}
}

func TestKBStates(t *testing.T) {
	k := newKBStates()
	k.add("KB1000001", cbsInstalled)
	k.add("KB1000002", cbsStaged) // a language-pack part never installed
	k.add("KB1000002", cbsInstalled)
	k.add("KB1000003", cbsInstallPending)
	k.add("KB1000004", cbsSuperseded)
	k.add("KB1000005", cbsStaged)
	k.add("KB1000006", cbsPermanent)
	k.add("", cbsInstalled)
	if got, want := k.Installed(), []string{"KB1000001", "KB1000002", "KB1000004", "KB1000006"}; !reflect.DeepEqual(got, want) {
		t.Errorf("installed %v, want %v", got, want)
	}
	if !k.Has("kb1000001") || k.Has("KB1000003") || k.Has("KB1000005") || k.Has("nonsense") {
		t.Error("Has disagrees with the states")
	}
	if !k.AnyPending() {
		t.Error("an install-pending update means a reboot is pending")
	}
	if newKBStates().AnyPending() {
		t.Error("nothing pending on an empty store")
	}
}
