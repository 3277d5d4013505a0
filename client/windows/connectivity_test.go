package windows

import (
	"reflect"
	"strings"
	"testing"

	pb "purserpb/v1"
)

func TestExpandURLs(t *testing.T) {
	params := map[string]string{"service_urls": "https://a.example, http://b.example:8080/x ,,"}
	got, err := expandURLs([]string{"${service_urls}", "https://c.example"}, params)
	want := []string{"https://a.example", "http://b.example:8080/x", "https://c.example"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %q %v, want %q", got, err, want)
	}
	if _, err := expandURLs([]string{"${missing}"}, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing parameter: %v", err)
	}
	if _, err := expandURLs([]string{" , "}, nil); err == nil {
		t.Error("no URL at all accepted")
	}
}

func TestParseProbeURL(t *testing.T) {
	cases := map[string]probeTarget{
		"https://winatp-gw-cus.microsoft.com":  {Host: "winatp-gw-cus.microsoft.com", Port: 443, Path: "/", Secure: true},
		"http://crl.microsoft.com":             {Host: "crl.microsoft.com", Port: 80, Path: "/"},
		"https://127.0.0.1:8443/path?q=1":      {Host: "127.0.0.1", Port: 8443, Path: "/path?q=1", Secure: true},
		"HTTPS://x.cp.wd.microsoft.com/status": {Host: "x.cp.wd.microsoft.com", Port: 443, Path: "/status", Secure: true},
	}
	for raw, want := range cases {
		if got, err := parseProbeURL(raw); err != nil || got != want {
			t.Errorf("%s: got %+v %v, want %+v", raw, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://x", "https://", "https://x:0", "https://x:99999", "://"} {
		if _, err := parseProbeURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestConnectivityVerdicts(t *testing.T) {
	proxy := winHTTPProxy{Proxy: "proxy.corp:3128"}
	ms := []string{"Microsoft Corporation"}
	cases := []struct {
		name  string
		r     probeResult
		class pb.ErrorClass
		text  string
	}{
		{"plain http", probeResult{URL: "http://crl.microsoft.com", Status: 200}, 0, ""},
		{"microsoft tls", probeResult{URL: "https://a", Status: 404, Issuer: `"Microsoft Azure TLS Issuing CA 05" (Microsoft Corporation)`, IssuerOrg: ms}, 0, ""},
		{"digicert tls", probeResult{URL: "https://a", Status: 200, Issuer: "x", IssuerOrg: []string{"DigiCert Inc"}}, 0, ""},
		{"re-signed, trusted", probeResult{URL: "https://a", Status: 200, Issuer: `"Zscaler Intermediate Root CA" (Zscaler Inc.)`, IssuerOrg: []string{"Zscaler Inc."}},
			pb.ErrorClass_ERROR_CLASS_TLS_INTERCEPTION, `TLS interception detected on the path to https://a: the certificate is issued by "Zscaler Intermediate Root CA" (Zscaler Inc.), not Microsoft (proxy proxy.corp:3128); exempt the Defender URLs from inspection`},
		{"re-signed, untrusted", probeResult{URL: "https://a", Err: errWinHTTPSecureFailure, CertRejected: true, Issuer: "Fortinet", IssuerOrg: []string{"Fortinet"}},
			pb.ErrorClass_ERROR_CLASS_TLS_INTERCEPTION, "TLS interception detected on the path to https://a: the certificate is issued by Fortinet"},
		{"microsoft, old roots", probeResult{URL: "https://a", Err: errWinHTTPSecureInvalidCA, CertRejected: true, Issuer: "MS", IssuerOrg: ms},
			pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, "presents Microsoft's certificate (issued by MS) but this machine does not accept it"},
		{"refused as a channel error", probeResult{URL: "https://a", Err: errWinHTTPSecureChannel, CertRejected: true, Issuer: "Corp", IssuerOrg: []string{"Corp"}},
			pb.ErrorClass_ERROR_CLASS_TLS_INTERCEPTION, "the certificate is issued by Corp, not Microsoft"},
		{"unreadable issuer", probeResult{URL: "https://a", Err: errWinHTTPSecureInvalidCA, CertRejected: true},
			pb.ErrorClass_ERROR_CLASS_TLS_INTERCEPTION, "issued by an unnamed issuer"},
		{"cert unreadable", probeResult{URL: "https://a", Err: errWinHTTPSecureFailure},
			pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, "and its issuer could not be read"},
		{"handshake", probeResult{URL: "https://a", Err: errWinHTTPSecureChannel}, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, "KB3140245"},
		{"refused", probeResult{URL: "https://a", Err: errWinHTTPCannotConnect},
			pb.ErrorClass_ERROR_CLASS_NETWORK, "https://a cannot be reached (proxy proxy.corp:3128): the connection was refused or could not be made (WinHTTP error 12029)"},
		{"proxy auth", probeResult{URL: "http://a", Status: 407}, pb.ErrorClass_ERROR_CLASS_NETWORK, "HTTP 407"},
		{"bad url", probeResult{URL: "x", Local: "URL x: bad"}, pb.ErrorClass_ERROR_CLASS_AGENT, "URL x: bad"},
	}
	for _, c := range cases {
		cls, msg := c.r.verdict(proxy)
		if cls != c.class || !strings.Contains(msg, c.text) {
			t.Errorf("%s: got %s %q, want %s containing %q", c.name, cls, msg, c.class, c.text)
		}
	}
}

func TestConnectivityResult(t *testing.T) {
	ok := probeResult{URL: "http://crl.microsoft.com", Status: 200}
	down := probeResult{URL: "https://down", Err: errWinHTTPNameNotResolved}
	intercepted := probeResult{URL: "https://mitm", Status: 200, Issuer: "Corp CA", IssuerOrg: []string{"Corp"}}
	r := connectivityResult([]probeResult{ok, ok}, winHTTPProxy{})
	if r.Outcome != pb.StepOutcome_STEP_OUTCOME_SUCCEEDED || r.Message != "2 URLs reachable without interception" ||
		!strings.HasPrefix(r.Output, "WinHTTP: direct connection\nok   http://crl.microsoft.com: HTTP 200\n") {
		t.Errorf("all reachable: %+v", r)
	}
	r = connectivityResult([]probeResult{ok, down, intercepted}, winHTTPProxy{})
	if r.ErrorClass != pb.ErrorClass_ERROR_CLASS_TLS_INTERCEPTION || !strings.Contains(r.Message, "https://mitm") ||
		!strings.HasSuffix(r.Message, "(2 of 3 URLs failed)") || !strings.Contains(r.Output, "FAIL https://down cannot be reached") {
		t.Errorf("interception comes first: %+v", r)
	}
	r = connectivityResult([]probeResult{down}, winHTTPProxy{})
	if r.ErrorClass != pb.ErrorClass_ERROR_CLASS_NETWORK || r.Message != "https://down cannot be reached: the name does not resolve (WinHTTP error 12007)" {
		t.Errorf("unreachable: %+v", r)
	}
}

func TestDescribeIssuer(t *testing.T) {
	if got := describeIssuer("Corp CA", []string{"Corp"}); got != `"Corp CA" (Corp)` {
		t.Error(got)
	}
	if got := describeIssuer("", nil); got != "an unnamed issuer" {
		t.Error(got)
	}
	if !issuedByMicrosoft([]string{"Other", " microsoft corporation "}) || issuedByMicrosoft([]string{"Microsoft Corp Fake"}) {
		t.Error("issuedByMicrosoft")
	}
}
