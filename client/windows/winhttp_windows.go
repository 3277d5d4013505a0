package windows

import (
	"crypto/x509"
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"purser/client/agent"
	pb "purserpb/v1"
)

const (
	winHTTPAccessTypeDefaultProxy  = 0
	winHTTPAccessTypeNoProxy       = 1
	winHTTPAccessTypeNamedProxy    = 3
	winHTTPFlagSecure              = 0x00800000
	winHTTPOptionSecurityFlags     = 31
	winHTTPOptionDisableFeature    = 63
	winHTTPOptionServerCertContext = 78
	winHTTPOptionSecureProtocols   = 84
	winHTTPDisableRedirects        = 0x00000002
	winHTTPQueryStatusCode         = 19
	winHTTPQueryFlagNumber         = 0x20000000
	// TLS 1.0, 1.1 and 1.2: all SChannel offers once KB3140245 is in (it
	// refuses the option, harmlessly, before).
	winHTTPSecureProtocols = 0x00000080 | 0x00000200 | 0x00000800
	// Certificate errors ignored on the second look, to read the issuer.
	securityFlagsIgnoreCert = 0x00000100 | 0x00002000 | 0x00001000 | 0x00000200

	probeTimeoutCap = 30 * time.Second
)

// checkConnectivity reaches each URL through WinHTTP as the machine is
// configured: its WinHTTP proxy (the 64-bit setting, also from a 32-bit
// agent) and its own TLS.
func (e *Executor) checkConnectivity(a *pb.CheckConnectivity, params map[string]string, lim limit) agent.ActionResult {
	urls, err := expandURLs(a.GetUrls(), params)
	if err != nil {
		return agentFailure(err)
	}
	if err := need(procWinHttpOpen, procWinHttpConnect, procWinHttpOpenRequest, procWinHttpSendRequest,
		procWinHttpReceiveResponse, procWinHttpQueryHeaders, procWinHttpQueryOption, procWinHttpSetOption,
		procWinHttpSetTimeouts, procWinHttpCloseHandle); err != nil {
		return agentFailure(err)
	}
	proxy, err := machineWinHTTPProxy()
	if err != nil {
		return agentFailure(fmt.Errorf("cannot read the WinHTTP proxy: %v", err))
	}
	session, err := openWinHTTPSession(proxy, e.facts.wow64)
	if err != nil {
		return agentFailure(err)
	}
	defer procWinHttpCloseHandle.Call(session)
	var results []probeResult
	for i, u := range urls {
		left := time.Until(lim.at)
		if left <= 0 {
			r := connectivityResult(results, proxy)
			return timeoutResult(fmt.Sprintf("the connectivity check (%d of %d URLs done)", i, len(urls)), lim.total, r.Output)
		}
		per := left / time.Duration(len(urls)-i)
		if per > probeTimeoutCap {
			per = probeTimeoutCap
		}
		results = append(results, probeURL(session, u, per))
	}
	return connectivityResult(results, proxy)
}

// openWinHTTPSession opens a synchronous WinHTTP session. A native agent
// takes the default proxy (the setting netsh writes); a 32-bit agent
// would read the WOW64 copy, so it names the 64-bit setting itself.
func openWinHTTPSession(proxy winHTTPProxy, wow64 bool) (uintptr, error) {
	agentName, _ := utf16Ptr("Purser-Agent")
	access := uintptr(winHTTPAccessTypeDefaultProxy)
	var name, bypass *uint16
	if wow64 {
		access = winHTTPAccessTypeNoProxy
		if proxy.Proxy != "" {
			access = winHTTPAccessTypeNamedProxy
			var err error
			if name, err = utf16Ptr(proxy.Proxy); err != nil {
				return 0, err
			}
			if proxy.Bypass != "" {
				if bypass, err = utf16Ptr(proxy.Bypass); err != nil {
					return 0, err
				}
			}
		}
	}
	h, _, e := procWinHttpOpen.Call(uintptr(unsafe.Pointer(agentName)), access,
		uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(bypass)), 0)
	if h == 0 {
		return 0, fmt.Errorf("WinHttpOpen: %v", lastError(e))
	}
	protocols := uint32(winHTTPSecureProtocols)
	procWinHttpSetOption.Call(h, winHTTPOptionSecureProtocols, uintptr(unsafe.Pointer(&protocols)), 4)
	return h, nil
}

// probeURL reaches one URL. A certificate the machine refuses is looked
// at a second time, its errors ignored, to say who issued it.
func probeURL(session uintptr, raw string, timeout time.Duration) probeResult {
	res := probeResult{URL: raw}
	t, err := parseProbeURL(raw)
	if err != nil {
		res.Local = err.Error()
		return res
	}
	host, err := utf16Ptr(t.Host)
	if err != nil {
		res.Local = err.Error()
		return res
	}
	conn, _, e := procWinHttpConnect.Call(session, uintptr(unsafe.Pointer(host)), uintptr(t.Port), 0)
	if conn == 0 {
		res.Local = fmt.Sprintf("%s: WinHttpConnect: %v", raw, lastError(e))
		return res
	}
	defer procWinHttpCloseHandle.Call(conn)
	first := requestOnce(conn, t, timeout, false)
	if first.local != "" {
		res.Local = raw + ": " + first.local
		return res
	}
	res.Status, res.Err = first.status, first.err
	cert := first.cert
	if first.err != 0 && t.Secure && secondLook(first.err) {
		if second := requestOnce(conn, t, timeout, true); second.err == 0 {
			res.CertRejected, cert = true, second.cert
		}
	}
	if len(cert) > 0 {
		res.Issuer, res.IssuerOrg = certificateIssuer(cert)
	}
	return res
}

type attempt struct {
	status int
	err    uint32
	cert   []byte
	local  string
}

func requestOnce(conn uintptr, t probeTarget, timeout time.Duration, ignoreCert bool) attempt {
	var a attempt
	verb, _ := utf16Ptr("GET")
	path, err := utf16Ptr(t.Path)
	if err != nil {
		a.local = err.Error()
		return a
	}
	flags := uintptr(0)
	if t.Secure {
		flags = winHTTPFlagSecure
	}
	req, _, e := procWinHttpOpenRequest.Call(conn, uintptr(unsafe.Pointer(verb)), uintptr(unsafe.Pointer(path)), 0, 0, 0, flags)
	if req == 0 {
		a.local = fmt.Sprintf("WinHttpOpenRequest: %v", lastError(e))
		return a
	}
	defer procWinHttpCloseHandle.Call(req)
	ms := uintptr(timeout.Milliseconds())
	procWinHttpSetTimeouts.Call(req, ms, ms, ms, ms)
	// The URL's own answer counts, not where it redirects.
	noRedirects := uint32(winHTTPDisableRedirects)
	procWinHttpSetOption.Call(req, winHTTPOptionDisableFeature, uintptr(unsafe.Pointer(&noRedirects)), 4)
	if ignoreCert {
		sec := uint32(securityFlagsIgnoreCert)
		procWinHttpSetOption.Call(req, winHTTPOptionSecurityFlags, uintptr(unsafe.Pointer(&sec)), 4)
	}
	if r, _, e := procWinHttpSendRequest.Call(req, 0, 0, 0, 0, 0, 0); r == 0 {
		a.err = errCode(e)
		return a
	}
	if r, _, e := procWinHttpReceiveResponse.Call(req, 0); r == 0 {
		a.err = errCode(e)
		return a
	}
	var status, size uint32 = 0, 4
	if r, _, _ := procWinHttpQueryHeaders.Call(req, winHTTPQueryStatusCode|winHTTPQueryFlagNumber, 0,
		uintptr(unsafe.Pointer(&status)), uintptr(unsafe.Pointer(&size)), 0); r != 0 {
		a.status = int(status)
	}
	if t.Secure {
		var ctx *syscall.CertContext
		n := uint32(unsafe.Sizeof(ctx))
		if r, _, _ := procWinHttpQueryOption.Call(req, winHTTPOptionServerCertContext,
			uintptr(unsafe.Pointer(&ctx)), uintptr(unsafe.Pointer(&n))); r != 0 && ctx != nil {
			a.cert = append([]byte(nil), unsafe.Slice(ctx.EncodedCert, ctx.Length)...)
			syscall.CertFreeCertificateContext(ctx)
		}
	}
	return a
}

func errCode(e error) uint32 {
	if errno, ok := lastError(e).(syscall.Errno); ok {
		return uint32(errno)
	}
	return 0
}

// certificateIssuer names a DER certificate's issuer and its
// organisations.
func certificateIssuer(der []byte) (string, []string) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return "an unreadable certificate", nil
	}
	return describeIssuer(c.Issuer.CommonName, c.Issuer.Organization), c.Issuer.Organization
}
