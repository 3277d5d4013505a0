package windows

import "testing"

func TestDotnet4Version(t *testing.T) {
	cases := map[uint32]string{0: "4.0", 378389: "4.5", 378675: "4.5.1", 378758: "4.5.1", 379893: "4.5.2",
		393295: "4.6", 393297: "4.6", 394271: "4.6.1", 394806: "4.6.2", 460805: "4.7", 461310: "4.7.1",
		461814: "4.7.2", 528049: "4.8", 528449: "4.8", 533325: "4.8.1", 600000: "4.8.1"}
	for release, want := range cases {
		if got := dotnet4Version(release); got != want {
			t.Errorf("Release %d: got %s, want %s", release, got, want)
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	cases := []struct {
		have, want string
		ok         bool
	}{
		{"4.5", "4.5", true}, {"4.5.2", "4.5", true}, {"4.8", "4.5", true}, {"4.0", "4.5", false},
		{"3.5", "4.5", false}, {"4.10", "4.9", true}, {"", "4.5", false}, {"4.x", "4.5", false},
	}
	for _, c := range cases {
		if got := versionAtLeast(c.have, c.want); got != c.ok {
			t.Errorf("versionAtLeast(%q, %q) = %v", c.have, c.want, got)
		}
	}
}
