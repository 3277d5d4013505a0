package winsvc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseInstallArgs(t *testing.T) {
	o, err := ParseInstallArgs([]string{"--server=h:7443", `--ca=\\dc\share\ca.pem`, "--token_file=t.txt",
		"--proxy=p:3128", "--allow_run_command"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := &InstallOptions{Server: "h:7443", CA: `\\dc\share\ca.pem`, TokenFile: "t.txt", Proxy: "p:3128", AllowRunCommand: "true"}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v, want %+v", o, want)
	}
}

// msiexec passes every property, empty or not.
func TestParseInstallArgsTreatsEmptyValuesAsNotGiven(t *testing.T) {
	o, err := ParseInstallArgs([]string{"--server=", "--ca=", "--token_file=", "--proxy=", "--allow_run_command="}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if *o != (InstallOptions{}) {
		t.Errorf("got %+v, want nothing set", o)
	}
	if o, _ := ParseInstallArgs([]string{"--allow_run_command=0"}, io.Discard); o.AllowRunCommand != "false" {
		t.Errorf("--allow_run_command=0 gave %q", o.AllowRunCommand)
	}
}

func TestParseInstallArgsRejectsJunk(t *testing.T) {
	for _, args := range [][]string{{"--allow_run_command=maybe"}, {"--nope=1"}, {"server=h:1"}} {
		if _, err := ParseInstallArgs(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestParseUninstallArgs(t *testing.T) {
	if purge, err := ParseUninstallArgs(nil, io.Discard); purge || err != nil {
		t.Errorf("no flags: %v, %v", purge, err)
	}
	if purge, err := ParseUninstallArgs([]string{"--purge"}, io.Discard); !purge || err != nil {
		t.Errorf("--purge: %v, %v", purge, err)
	}
	if _, err := ParseUninstallArgs([]string{"now"}, io.Discard); err == nil {
		t.Error("argument accepted")
	}
}

func TestSettingsPointAtTheCopies(t *testing.T) {
	l := Layout{StateDir: "/pd/Purser"}
	o := &InstallOptions{Server: "h:1", CA: "/share/ca.pem", TokenFile: "/share/t", Proxy: NoProxy, AllowRunCommand: "false"}
	set, unset := o.Settings(l, true, true)
	want := []Setting{{"server", "h:1"}, {"ca", l.EnrollCA()}, {"token_file", l.EnrollToken()}, {"allow_run_command", "false"}}
	if !reflect.DeepEqual(set, want) || !reflect.DeepEqual(unset, []string{"proxy"}) {
		t.Errorf("set %q unset %q", set, unset)
	}
	// Enrolled already: the token is not copied, and not named.
	set, _ = o.Settings(l, true, false)
	for _, s := range set {
		if s.Name == "token_file" {
			t.Errorf("token_file set without a copy: %q", set)
		}
	}
}

func TestCheckServiceConfig(t *testing.T) {
	all := func(string) bool { return true }
	none := func(string) bool { return false }
	full := []string{"--server=h:1", "--ca=/s/ca", "--token_file=/s/t"}
	cases := []struct {
		args     []string
		enrolled bool
		exists   func(string) bool
		want     string
	}{
		{full, false, all, ""},
		{[]string{"--ca=/s/ca"}, true, all, "no control server"},
		{[]string{"--server="}, true, all, "no control server"},
		{[]string{"--server=h:1"}, true, none, ""},
		{[]string{"--server=h:1", "--ca=/s/ca"}, false, all, "no enrollment token"},
		{full, false, none, "no CA certificate"},
	}
	for _, c := range cases {
		err := CheckServiceConfig(c.args, c.enrolled, c.exists)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q enrolled=%v: %v, want %q", c.args, c.enrolled, err, c.want)
		}
	}
}

func selfSignedPEM(t *testing.T) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "purser-ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCheckCA(t *testing.T) {
	if err := CheckCA(selfSignedPEM(t), "ca.pem"); err != nil {
		t.Errorf("certificate refused: %v", err)
	}
	key := "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
	for _, data := range []string{"", "not pem", key} {
		if err := CheckCA([]byte(data), "ca.pem"); err == nil || !strings.Contains(err.Error(), "ca.pem holds no PEM certificate") {
			t.Errorf("%q: %v", data, err)
		}
	}
	junk := "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBATAK\n-----END CERTIFICATE-----\n"
	if err := CheckCA([]byte(junk), "ca.pem"); err == nil || !strings.Contains(err.Error(), "ca.pem: certificate 1 does not parse") {
		t.Errorf("junk certificate: %v", err)
	}
}

func TestCleanTokenNeverShowsTheToken(t *testing.T) {
	got, err := CleanToken([]byte("\xef\xbb\xbf  s3cret-token-value \r\n"), "t.txt")
	if err != nil || string(got) != "s3cret-token-value\n" {
		t.Errorf("got %q, %v", got, err)
	}
	for _, data := range []string{"", " \r\n", "s3cret-one\ns3cret-two\n"} {
		_, err := CleanToken([]byte(data), "t.txt")
		if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "t.txt") {
			t.Errorf("%q: %v", data, err)
		}
	}
}

func TestServiceCommandLineAndExeChecks(t *testing.T) {
	exe := `C:\Program Files\Purser\purser-agent.exe`
	if got := ServiceCommandLine(exe); got != `"C:\Program Files\Purser\purser-agent.exe" service` {
		t.Errorf("command line %s", got)
	}
	if err := CheckServiceExe(exe); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{`\\dc\netlogon\purser-agent.exe`, `purser-agent.exe`, `C:\a"b\x.exe`, `/usr/bin/x`} {
		if err := CheckServiceExe(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
