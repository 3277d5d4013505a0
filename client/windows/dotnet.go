package windows

import (
	"strconv"
	"strings"
)

// .NET Framework 4.5 and later replace 4.0 in place and say which they are
// by the Release value of HKLM\SOFTWARE\Microsoft\NET Framework
// Setup\NDP\v4\Full: the smallest Release of each version (Microsoft's
// table, "How to determine which .NET Framework versions are installed").
var dotnetReleases = []struct {
	min     uint32
	version string
}{
	{533320, "4.8.1"},
	{528040, "4.8"},
	{461808, "4.7.2"},
	{461308, "4.7.1"},
	{460798, "4.7"},
	{394802, "4.6.2"},
	{394254, "4.6.1"},
	{393295, "4.6"},
	{379893, "4.5.2"},
	{378675, "4.5.1"},
	{378389, "4.5"},
}

// dotnetKeys are the NDP keys, under HKLM.
const (
	dotnet4FullKey = `SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full`
	dotnet35Key    = `SOFTWARE\Microsoft\NET Framework Setup\NDP\v3.5`
	dotnet30Key    = `SOFTWARE\Microsoft\NET Framework Setup\NDP\v3.0`
	dotnet20Key    = `SOFTWARE\Microsoft\NET Framework Setup\NDP\v2.0.50727`
)

// dotnet4Version is the 4.x version a Release value names; 4.0 has none.
func dotnet4Version(release uint32) string {
	for _, r := range dotnetReleases {
		if release >= r.min {
			return r.version
		}
	}
	return "4.0"
}

// versionAtLeast compares dotted versions numerically: "4.5.2" >= "4.5".
// An empty or malformed version is never at least anything.
func versionAtLeast(have, want string) bool {
	if have == "" {
		return false
	}
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := 0; i < len(h) || i < len(w); i++ {
		var a, b int
		var err error
		if i < len(h) {
			if a, err = strconv.Atoi(h[i]); err != nil {
				return false
			}
		}
		if i < len(w) {
			if b, err = strconv.Atoi(w[i]); err != nil {
				return false
			}
		}
		if a != b {
			return a > b
		}
	}
	return true
}
