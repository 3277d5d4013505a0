package windows

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"purser/client/agent"
	pb "purserpb/v1"
)

// The connectivity check reaches each service URL through WinHTTP and the
// machine's own TLS (SChannel), the way the sensor does, and reads who
// issued the certificate that came back.

// expandURLs expands ${param} references in urls and splits the
// comma-separated lists they may hold.
func expandURLs(urls []string, params map[string]string) ([]string, error) {
	var out []string
	for _, u := range urls {
		expanded, err := agent.ExpandRefs(u, params)
		if err != nil {
			return nil, err
		}
		for _, part := range strings.Split(expanded, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("check_connectivity names no URL")
	}
	return out, nil
}

// probeTarget is where a URL is reached.
type probeTarget struct {
	Host   string
	Port   uint16
	Path   string
	Secure bool
}

func parseProbeURL(raw string) (probeTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return probeTarget{}, fmt.Errorf("URL %q: %v", raw, err)
	}
	t := probeTarget{Host: u.Hostname(), Path: u.RequestURI()}
	switch strings.ToLower(u.Scheme) {
	case "https":
		t.Secure, t.Port = true, 443
	case "http":
		t.Port = 80
	default:
		return t, fmt.Errorf("URL %q: scheme must be http or https", raw)
	}
	if t.Host == "" {
		return t, fmt.Errorf("URL %q has no host", raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return t, fmt.Errorf("URL %q: bad port %q", raw, p)
		}
		t.Port = uint16(n)
	}
	return t, nil
}

// microsoftIssuers are the organisations whose certificates Microsoft's
// services present: its own issuing CAs, which chain to DigiCert roots,
// and DigiCert, which issues some Microsoft endpoints directly. An
// inspecting proxy re-signs with its own CA, which is neither.
var microsoftIssuers = []string{"Microsoft Corporation", "DigiCert Inc"}

// issuedByMicrosoft reports whether a certificate issued by an
// organisation in orgs belongs to Microsoft's chain.
func issuedByMicrosoft(orgs []string) bool {
	for _, o := range orgs {
		for _, m := range microsoftIssuers {
			if strings.EqualFold(strings.TrimSpace(o), m) {
				return true
			}
		}
	}
	return false
}

// WinHTTP error codes the check tells apart.
const (
	errWinHTTPTimeout          = 12002
	errWinHTTPNameNotResolved  = 12007
	errWinHTTPCannotConnect    = 12029
	errWinHTTPConnectionError  = 12030
	errWinHTTPSecureCertDate   = 12037
	errWinHTTPSecureCertCN     = 12038
	errWinHTTPSecureInvalidCA  = 12045
	errWinHTTPSecureCertRevoke = 12170
	errWinHTTPInvalidResponse  = 12152
	errWinHTTPSecureChannel    = 12157
	errWinHTTPSecureInvalid    = 12169
	errWinHTTPSecureFailure    = 12175
	errWinHTTPSecureWrongUsage = 12179
)

var winHTTPErrorNames = map[uint32]string{
	errWinHTTPTimeout:          "the operation timed out",
	errWinHTTPNameNotResolved:  "the name does not resolve",
	errWinHTTPCannotConnect:    "the connection was refused or could not be made",
	errWinHTTPConnectionError:  "the connection was reset",
	errWinHTTPSecureCertDate:   "the certificate is expired or not yet valid",
	errWinHTTPSecureCertCN:     "the certificate names another host",
	errWinHTTPSecureInvalidCA:  "the certificate's root is not trusted",
	errWinHTTPSecureCertRevoke: "the certificate is revoked",
	errWinHTTPInvalidResponse:  "the server's answer is not HTTP",
	errWinHTTPSecureChannel:    "the TLS handshake failed",
	errWinHTTPSecureInvalid:    "the certificate is invalid",
	errWinHTTPSecureFailure:    "the certificate does not validate",
	errWinHTTPSecureWrongUsage: "the certificate is not for server authentication",
}

func winHTTPErrorText(code uint32) string {
	if s, ok := winHTTPErrorNames[code]; ok {
		return fmt.Sprintf("%s (WinHTTP error %d)", s, code)
	}
	return fmt.Sprintf("WinHTTP error %d", code)
}

// certificateError: the TLS session failed on the certificate.
func certificateError(code uint32) bool {
	switch code {
	case errWinHTTPSecureFailure, errWinHTTPSecureInvalid, errWinHTTPSecureInvalidCA,
		errWinHTTPSecureCertCN, errWinHTTPSecureCertDate, errWinHTTPSecureWrongUsage:
		return true
	}
	return false
}

// secondLook: after this error the URL is reached again with certificate
// errors ignored, to see whether the certificate was the cause and who
// issued it. A channel error is included: some TLS stacks (Wine's) report
// a refused certificate as one.
func secondLook(code uint32) bool {
	return certificateError(code) || code == errWinHTTPSecureChannel
}

// probeResult is what reaching one URL gave.
type probeResult struct {
	URL    string
	Status int    // HTTP status, 0 when no answer
	Err    uint32 // WinHTTP error of the first attempt, 0 when it answered
	// CertRejected: the first attempt failed and a second one, ignoring
	// certificate errors, got through: this machine refuses the certificate.
	CertRejected bool
	Issuer       string   // the certificate's issuer, as read (https)
	IssuerOrg    []string // its organisations
	Local        string   // a failure before any network I/O (bad URL, API error)
}

// verdict is one URL's class and what to tell the operator; cls is
// UNSPECIFIED when the URL is reachable without interception.
func (r probeResult) verdict(proxy winHTTPProxy) (pb.ErrorClass, string) {
	via := ""
	if proxy.Proxy != "" {
		via = " (proxy " + proxy.Proxy + ")"
	}
	issuer := r.Issuer
	if issuer == "" {
		issuer = "an unnamed issuer"
	}
	switch {
	case r.Local != "":
		return pb.ErrorClass_ERROR_CLASS_AGENT, r.Local
	case r.CertRejected && !issuedByMicrosoft(r.IssuerOrg):
		return pb.ErrorClass_ERROR_CLASS_TLS_INTERCEPTION, fmt.Sprintf(
			"TLS interception detected on the path to %s: the certificate is issued by %s, not Microsoft%s; exempt the Defender URLs from inspection",
			r.URL, issuer, via)
	case r.CertRejected:
		return pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, fmt.Sprintf(
			"%s presents Microsoft's certificate (issued by %s) but this machine does not accept it: %s; update its root certificates",
			r.URL, issuer, winHTTPErrorText(r.Err))
	case certificateError(r.Err):
		return pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, fmt.Sprintf(
			"%s: %s%s, and its issuer could not be read", r.URL, winHTTPErrorText(r.Err), via)
	case r.Err == errWinHTTPSecureChannel:
		return pb.ErrorClass_ERROR_CLASS_CHECK_FAILED, fmt.Sprintf(
			"%s: %s%s; the machine's TLS may lack TLS 1.2 for WinHTTP (KB3140245) or the path may block it",
			r.URL, winHTTPErrorText(r.Err), via)
	case r.Err != 0:
		return pb.ErrorClass_ERROR_CLASS_NETWORK, fmt.Sprintf("%s cannot be reached%s: %s", r.URL, via, winHTTPErrorText(r.Err))
	case r.Status == 407:
		who := "a proxy"
		if proxy.Proxy != "" {
			who = "proxy " + proxy.Proxy
		}
		return pb.ErrorClass_ERROR_CLASS_NETWORK, fmt.Sprintf("%s: %s asks for authentication (HTTP 407)", r.URL, who)
	case r.Issuer != "" && !issuedByMicrosoft(r.IssuerOrg):
		return pb.ErrorClass_ERROR_CLASS_TLS_INTERCEPTION, fmt.Sprintf(
			"TLS interception detected on the path to %s: the certificate is issued by %s, not Microsoft%s; exempt the Defender URLs from inspection",
			r.URL, issuer, via)
	}
	return pb.ErrorClass_ERROR_CLASS_UNSPECIFIED, ""
}

// line is the URL's line in the step's output.
func (r probeResult) line(proxy winHTTPProxy) string {
	cls, msg := r.verdict(proxy)
	if cls != pb.ErrorClass_ERROR_CLASS_UNSPECIFIED {
		return "FAIL " + msg
	}
	s := fmt.Sprintf("ok   %s: HTTP %d", r.URL, r.Status)
	if r.Issuer != "" {
		s += ", certificate issued by " + r.Issuer
	}
	return s
}

// connectivityResult is the step's result from every URL's: interception
// first (it breaks the sensor whatever else works), then the other
// failures, each URL named.
func connectivityResult(results []probeResult, proxy winHTTPProxy) agent.ActionResult {
	var out strings.Builder
	fmt.Fprintf(&out, "WinHTTP: %s\n", proxy)
	worst, first, failed := pb.ErrorClass_ERROR_CLASS_UNSPECIFIED, "", 0
	for _, r := range results {
		out.WriteString(r.line(proxy) + "\n")
		cls, msg := r.verdict(proxy)
		if cls == pb.ErrorClass_ERROR_CLASS_UNSPECIFIED {
			continue
		}
		failed++
		if worst == pb.ErrorClass_ERROR_CLASS_UNSPECIFIED ||
			(cls == pb.ErrorClass_ERROR_CLASS_TLS_INTERCEPTION && worst != cls) {
			worst, first = cls, msg
		}
	}
	if failed == 0 {
		r := agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED,
			fmt.Sprintf("%d URLs reachable without interception", len(results)))
		r.Output = out.String()
		return r
	}
	if failed > 1 {
		first = fmt.Sprintf("%s (%d of %d URLs failed)", first, failed, len(results))
	}
	r := agent.Failed(worst, 0, first)
	r.Output = out.String()
	return r
}

// describeIssuer names an issuer as an operator recognises it:
// "Zscaler Intermediate Root CA" (Zscaler Inc.).
func describeIssuer(cn string, orgs []string) string {
	switch {
	case cn != "" && len(orgs) > 0:
		return fmt.Sprintf("%q (%s)", cn, strings.Join(orgs, ", "))
	case cn != "":
		return fmt.Sprintf("%q", cn)
	case len(orgs) > 0:
		return strings.Join(orgs, ", ")
	}
	return "an unnamed issuer"
}
