//go:build windows

package main

// netsh winhttp set proxy / reset proxy / show proxy: the machine's WinHTTP
// proxy, written where netsh writes it (HKLM\SOFTWARE\Microsoft\Windows\
// CurrentVersion\Internet Settings\Connections, value WinHttpSettings, in
// the 64-bit view): a header (0x18, a change counter, the proxy type
// flags: 1 direct, 3 direct and named proxy), then the proxy and the bypass
// list, each an ANSI string after its 32-bit length.

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unsafe"
)

const (
	winHTTPKey   = `SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections`
	winHTTPValue = "WinHttpSettings"
	regBinary    = 3
)

func winHTTPSettings(counter uint32, proxy, bypass string) []byte {
	flags := uint32(1)
	if proxy != "" {
		flags = 3
	}
	b := make([]byte, 0, 20+len(proxy)+len(bypass))
	for _, v := range []uint32{0x18, counter, flags, uint32(len(proxy))} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	b = append(b, proxy...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(bypass)))
	return append(b, bypass...)
}

func netsh(args []string) int {
	lower := make([]string, len(args))
	for i, a := range args {
		lower[i] = strings.ToLower(a)
	}
	if len(args) < 3 || strings.Join(lower[:3], " ") != "winhttp "+lower[1]+" proxy" {
		notef("netsh: the stand-in knows only netsh winhttp set|reset|show proxy, got %q", args)
		return 1
	}
	proxy, bypass := "", ""
	switch lower[1] {
	case "show":
		fmt.Print("\nCurrent WinHTTP proxy settings:\n\n")
		k, err := openKey(winHTTPKey)
		if err == nil {
			defer k.Close()
			if _, b, err := k.value(winHTTPValue); err == nil && len(b) >= 16 &&
				binary.LittleEndian.Uint32(b[8:])&2 != 0 {
				n := binary.LittleEndian.Uint32(b[12:])
				if int(16+n) <= len(b) {
					fmt.Printf("    Proxy Server(s) :  %s\n", b[16:16+n])
					return 0
				}
			}
		}
		fmt.Println("    Direct access (no proxy server).")
		return 0
	case "reset":
		if len(args) != 3 {
			notef("netsh: unexpected %q", args[3:])
			return 1
		}
	case "set":
		for _, a := range args[3:] {
			k, v, ok := strings.Cut(a, "=")
			switch strings.ToLower(k) {
			case "proxy-server":
				proxy = strings.Trim(v, `"`)
			case "bypass-list":
				bypass = strings.Trim(v, `"`)
			default:
				if !ok {
					notef("netsh: unexpected %q", a)
					return 1
				}
			}
		}
		if proxy == "" {
			notef("netsh: set proxy needs proxy-server=")
			return 1
		}
	default:
		notef("netsh: unknown winhttp command %q", args[1])
		return 1
	}
	k, err := createKey(winHTTPKey)
	if err != nil {
		notef("netsh: %v", err)
		return 1
	}
	defer k.Close()
	counter := uint32(0)
	if _, old, err := k.value(winHTTPValue); err == nil && len(old) >= 8 {
		counter = binary.LittleEndian.Uint32(old[4:]) + 1
	}
	v := winHTTPSettings(counter, proxy, bypass)
	r, _, _ := procRegSetValueExW.Call(uintptr(k.h), ptr(u16(winHTTPValue)), 0, regBinary,
		uintptr(unsafe.Pointer(&v[0])), uintptr(len(v)))
	if err := regStatus(r); err != nil {
		notef("netsh: cannot write WinHttpSettings: %v", err)
		return 1
	}
	fmt.Print("\nCurrent WinHTTP proxy settings:\n\n")
	if proxy == "" {
		fmt.Println("    Direct access (no proxy server).")
	} else {
		fmt.Printf("    Proxy Server(s) :  %s\n    Bypass List     :  %s\n", proxy, bypass)
	}
	return 0
}
