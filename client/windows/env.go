package windows

import "strings"

// mergeEnv is base with extra ("NAME=value") set over it. Windows names
// are case-insensitive: an extra replaces any spelling of its name.
func mergeEnv(base, extra []string) []string {
	if len(extra) == 0 {
		return base
	}
	names := map[string]bool{}
	for _, kv := range extra {
		names[strings.ToUpper(envName(kv))] = true
	}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		if !names[strings.ToUpper(envName(kv))] {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// envName is the name of "NAME=value". Windows keeps per-drive
// directories as "=C:=C:\dir": a leading '=' belongs to the name.
func envName(kv string) string {
	start := 0
	if strings.HasPrefix(kv, "=") {
		start = 1
	}
	if i := strings.IndexByte(kv[start:], '='); i >= 0 {
		return kv[:start+i]
	}
	return kv
}
