package windows

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// The machine's WinHTTP proxy (netsh winhttp) is kept in the registry as
// a binary value. The 64-bit view holds the one 64-bit services (the
// sensor, MMA) use; a 32-bit process's WinHTTP reads the WOW64 copy.
const (
	winHTTPSettingsKey   = `SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections`
	winHTTPSettingsValue = "WinHttpSettings"
)

// winHTTPProxy is a WinHTTP proxy setting; an empty Proxy is a direct
// connection.
type winHTTPProxy struct {
	Proxy  string
	Bypass string
}

func (p winHTTPProxy) String() string {
	if p.Proxy == "" {
		return "direct connection"
	}
	return "proxy " + p.Proxy
}

// WinHttpSettings flags (WINHTTP_PROXY_TYPE_*).
const winHTTPProxyTypeProxy = 0x2

// parseWinHTTPSettings reads a WinHttpSettings value: a header (a size or
// version, a change counter, the WINHTTP_PROXY_TYPE flags), then the proxy
// and the bypass list, each an ANSI string after its 32-bit length.
func parseWinHTTPSettings(b []byte) (winHTTPProxy, error) {
	var p winHTTPProxy
	if len(b) < 12 {
		return p, fmt.Errorf("WinHttpSettings is %d bytes, shorter than its header", len(b))
	}
	flags := binary.LittleEndian.Uint32(b[8:])
	rest := b[12:]
	field := func(what string) (string, error) {
		if len(rest) == 0 {
			return "", nil
		}
		if len(rest) < 4 {
			return "", fmt.Errorf("WinHttpSettings: %s length is cut short", what)
		}
		n := binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return "", fmt.Errorf("WinHttpSettings: %s of %d bytes overruns the value", what, n)
		}
		s := string(rest[:n])
		rest = rest[n:]
		return s, nil
	}
	proxy, err := field("proxy")
	if err != nil {
		return p, err
	}
	bypass, err := field("bypass list")
	if err != nil {
		return p, err
	}
	if flags&winHTTPProxyTypeProxy != 0 {
		p.Proxy, p.Bypass = proxy, bypass
	}
	return p, nil
}

// netshProxyArgs are netsh's arguments that set the WinHTTP proxy, or
// reset it to a direct connection when proxy is empty.
func netshProxyArgs(proxy string) ([]string, error) {
	if proxy == "" {
		return []string{"winhttp", "reset", "proxy"}, nil
	}
	if err := checkProxy(proxy); err != nil {
		return nil, err
	}
	return []string{"winhttp", "set", "proxy", "proxy-server=" + proxy}, nil
}

// checkProxy refuses what a proxy setting cannot hold: netsh and MMA take
// "host:port" or "http=host:port;https=host:port", never spaces or quotes.
func checkProxy(proxy string) error {
	for _, r := range proxy {
		if r <= ' ' || r == '"' || r == 0x7f {
			return fmt.Errorf("proxy %q holds a space, quote or control character", proxy)
		}
	}
	if strings.HasPrefix(proxy, "-") || strings.HasPrefix(proxy, "/") {
		return fmt.Errorf("proxy %q starts like an option", proxy)
	}
	return nil
}
