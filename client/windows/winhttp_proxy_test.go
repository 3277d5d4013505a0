package windows

import (
	"encoding/binary"
	"reflect"
	"testing"
)

// encodeWinHTTPSettings writes a WinHttpSettings value as netsh does (also
// used by the netsh stand-in of the Wine tests).
func encodeWinHTTPSettings(p winHTTPProxy) []byte {
	flags := uint32(1) // WINHTTP_PROXY_TYPE_DIRECT
	if p.Proxy != "" {
		flags |= winHTTPProxyTypeProxy
	}
	b := make([]byte, 12)
	binary.LittleEndian.PutUint32(b[0:], 0x28)
	binary.LittleEndian.PutUint32(b[4:], 1)
	binary.LittleEndian.PutUint32(b[8:], flags)
	for _, s := range []string{p.Proxy, p.Bypass} {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

func TestParseWinHTTPSettings(t *testing.T) {
	direct := []byte{0x18, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // netsh winhttp reset proxy
	if p, err := parseWinHTTPSettings(direct); err != nil || p != (winHTTPProxy{}) {
		t.Errorf("direct: %+v %v", p, err)
	}
	want := winHTTPProxy{Proxy: "proxy.corp:3128", Bypass: "<local>;*.corp"}
	if p, err := parseWinHTTPSettings(encodeWinHTTPSettings(want)); err != nil || p != want {
		t.Errorf("proxy: %+v %v, want %+v", p, err, want)
	}
	noBypass := encodeWinHTTPSettings(winHTTPProxy{Proxy: "10.0.0.1:8080"})
	if p, err := parseWinHTTPSettings(noBypass[:len(noBypass)-4]); err != nil || p.Proxy != "10.0.0.1:8080" {
		t.Errorf("without a bypass field: %+v %v", p, err)
	}
	for _, bad := range [][]byte{direct[:8], append(direct[:12:12], 9, 0, 0, 0, 'x'), append(direct[:12:12], 1, 0)} {
		if _, err := parseWinHTTPSettings(bad); err == nil {
			t.Errorf("%x parsed without error", bad)
		}
	}
}

func TestNetshProxyArgs(t *testing.T) {
	if got, _ := netshProxyArgs(""); !reflect.DeepEqual(got, []string{"winhttp", "reset", "proxy"}) {
		t.Errorf("reset: %q", got)
	}
	if got, _ := netshProxyArgs("proxy:8080"); !reflect.DeepEqual(got, []string{"winhttp", "set", "proxy", "proxy-server=proxy:8080"}) {
		t.Errorf("set: %q", got)
	}
	for _, bad := range []string{"a b:1", `p"x`, "-x", "/y", "p\n"} {
		if _, err := netshProxyArgs(bad); err == nil {
			t.Errorf("proxy %q accepted", bad)
		}
	}
	if (winHTTPProxy{}).String() != "direct connection" || (winHTTPProxy{Proxy: "p:1"}).String() != "proxy p:1" {
		t.Error("proxy descriptions differ from the simulator's")
	}
}
