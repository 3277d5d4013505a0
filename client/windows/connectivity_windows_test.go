package windows

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"purser/client/agent"
	pb "purserpb/v1"
)

func connectivityStep(urls ...string) *pb.Step {
	return &pb.Step{Id: "net", Action: &pb.Step_CheckConnectivity{CheckConnectivity: &pb.CheckConnectivity{Urls: []string{"${service_urls}"}}}}
}

func checkURLs(e *Executor, urls ...string) agent.ActionResult {
	return e.Run(connectivityStep(), map[string]string{"service_urls": strings.Join(urls, ",")}, time.Minute)
}

// tlsServer serves HTTPS with a leaf for 127.0.0.1 issued by a new CA of
// organisation org, which this machine does not trust. (Wine's WinHTTP
// trusts only the host's roots: a CA added to its root store is ignored,
// so a trusted re-signing CA is tested through verdict's unit tests.)
func tlsServer(t *testing.T, org, cn string) *httptest.Server {
	t.Helper()
	caKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn, Organization: []string{org}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "winatp-gw-cus.microsoft.com", Organization: []string{"Microsoft Corporation"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestConnectivityThroughWinHTTP(t *testing.T) {
	requireWine(t)
	resetWinHTTPProxy(t)
	if err := setDefaultProxyConfiguration(winHTTPAccessTypeNoProxy, "", ""); err != nil {
		t.Fatal(err)
	}
	e := newTestExecutor(t)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer plain.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + l.Addr().String()
	l.Close()

	r := checkURLs(e, plain.URL)
	want(t, "reachable", r, pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "1 URLs reachable without interception")
	if !strings.Contains(r.Output, "ok   "+plain.URL+": HTTP 200") {
		t.Errorf("output %q", r.Output)
	}
	want(t, "refused", checkURLs(e, plain.URL, closed), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_NETWORK,
		closed+" cannot be reached: ")

	mitm := tlsServer(t, "Acme Inspection Inc", "Acme Inspection CA")
	r = checkURLs(e, plain.URL, mitm.URL)
	want(t, "re-signed, CA not trusted", r, pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_TLS_INTERCEPTION,
		"TLS interception detected on the path to "+mitm.URL+`: the certificate is issued by "Acme Inspection CA" (Acme Inspection Inc), not Microsoft`)
	t.Logf("%s", r.Output)

	ms := tlsServer(t, "Microsoft Corporation", "Microsoft Azure TLS Issuing CA 05 (test)")
	want(t, "Microsoft's, untrusted here", checkURLs(e, ms.URL), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED,
		"presents Microsoft's certificate")
}

func TestConnectivityUsesTheMachinesWinHTTPProxy(t *testing.T) {
	requireWine(t)
	resetWinHTTPProxy(t)
	e := newTestExecutor(t)
	seen := make(chan string, 10)
	status := 200
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.URL.String() // a proxy is asked for the absolute URL
		w.WriteHeader(status)
	}))
	defer proxy.Close()
	addr := strings.TrimPrefix(proxy.URL, "http://")
	if err := setDefaultProxyConfiguration(winHTTPAccessTypeNamedProxy, addr, ""); err != nil {
		t.Fatal(err)
	}
	// The name resolves nowhere: only the proxy can answer for it.
	const url = "http://purser-test.invalid/status"
	r := checkURLs(e, url)
	want(t, "through the proxy", r, pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "1 URLs reachable without interception")
	if !strings.HasPrefix(r.Output, "WinHTTP: proxy "+addr+"\n") {
		t.Errorf("output %q does not name the proxy", r.Output)
	}
	select {
	case got := <-seen:
		if strings.Replace(got, ":80/", "/", 1) != url {
			t.Errorf("the proxy was asked for %q", got)
		}
	default:
		t.Error("the request did not go through the machine's proxy")
	}
	status = 407
	want(t, "proxy wants credentials", checkURLs(e, url), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_NETWORK,
		url+": proxy "+addr+" asks for authentication (HTTP 407)")
}
