package windows

import (
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"purser/client/agent"
	pb "purserpb/v1"
)

// resetWinHTTPProxy leaves the machine on a direct connection when the
// test ends, as it found it.
func resetWinHTTPProxy(t *testing.T) {
	t.Cleanup(func() {
		if err := setDefaultProxyConfiguration(winHTTPAccessTypeNoProxy, "", ""); err != nil {
			t.Errorf("resetting the WinHTTP proxy: %v", err)
		}
	})
}

// setDefaultProxyConfiguration sets the WinHTTP proxy the way Windows' own
// API does, to check the executor reads what WinHTTP writes.
func setDefaultProxyConfiguration(access uint32, proxy, bypass string) error {
	type proxyInfo struct {
		accessType uint32
		proxy      *uint16
		bypass     *uint16
	}
	info := proxyInfo{accessType: access}
	if proxy != "" {
		info.proxy, _ = utf16Ptr(proxy)
	}
	if bypass != "" {
		info.bypass, _ = utf16Ptr(bypass)
	}
	p := winhttp.NewProc("WinHttpSetDefaultProxyConfiguration")
	if r, _, e := p.Call(uintptr(unsafe.Pointer(&info))); r == 0 {
		return lastError(e)
	}
	return nil
}

func TestReadsWinHTTPsOwnProxySetting(t *testing.T) {
	requireWine(t)
	resetWinHTTPProxy(t)
	if err := setDefaultProxyConfiguration(winHTTPAccessTypeNamedProxy, "10.20.30.40:3128", "<local>"); err != nil {
		t.Fatal(err)
	}
	if p, err := machineWinHTTPProxy(); err != nil || p != (winHTTPProxy{Proxy: "10.20.30.40:3128", Bypass: "<local>"}) {
		t.Errorf("read %+v %v, want the proxy WinHTTP wrote", p, err)
	}
	if err := setDefaultProxyConfiguration(winHTTPAccessTypeNoProxy, "", ""); err != nil {
		t.Fatal(err)
	}
	if p, err := machineWinHTTPProxy(); err != nil || p.Proxy != "" {
		t.Errorf("read %+v %v, want a direct connection", p, err)
	}
}

func TestSetWinHTTPProxyThroughNetsh(t *testing.T) {
	requireWine(t)
	resetWinHTTPProxy(t)
	e := newTestExecutor(t)
	set := func(proxy string) agent.ActionResult {
		return e.Run(&pb.Step{Id: "proxy", Action: &pb.Step_SetProxy{SetProxy: &pb.SetProxy{
			Target: pb.SetProxy_TARGET_WINHTTP, Proxy: "${proxy}"}}}, map[string]string{"proxy": proxy}, time.Minute)
	}
	mark := logMark()
	want(t, "set", set("10.1.2.3:8080"), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "proxy 10.1.2.3:8080")
	if p, _ := machineWinHTTPProxy(); p.Proxy != "10.1.2.3:8080" {
		t.Errorf("WinHTTP proxy %+v after set", p)
	}
	want(t, "reset", set(""), pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, 0, "direct connection")
	calls := standinCalls(t, mark)
	if len(calls) != 2 || calls[0].CmdLine[len(calls[0].CmdLine)-len("winhttp set proxy proxy-server=10.1.2.3:8080"):] != "winhttp set proxy proxy-server=10.1.2.3:8080" ||
		calls[1].Argv[1] != "winhttp" || calls[1].Argv[2] != "reset" {
		t.Errorf("netsh called as %+v", calls)
	}
	// A netsh that reports success and changes nothing is caught.
	lie := filepath.Join(standinPath, "netsh.answer")
	writeFile(t, lie, "lie=1")
	defer os.Remove(lie)
	want(t, "lying netsh", set("10.9.9.9:1"), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_CHECK_FAILED,
		"netsh succeeded but WinHTTP shows direct connection, not proxy 10.9.9.9:1")
	want(t, "bad proxy", set("a b"), pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_AGENT, "space")
}
