package fleetsim

import (
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	mix, err := ParseMix("win7-sp1-x64-ent:50,,win81-x64-ent:20")
	if err != nil {
		t.Fatal(err)
	}
	if len(mix) != 2 || mix[0] != (MixEntry{"win7-sp1-x64-ent", 50}) || mix[1] != (MixEntry{"win81-x64-ent", 20}) {
		t.Errorf("got %v", mix)
	}
	if _, err := ParseMix(DefaultMix); err != nil {
		t.Errorf("default mix: %v", err)
	}
	for text, want := range map[string]string{
		"win7-sp1-x64-ent":       `"win7-sp1-x64-ent" is not profile:weight`,
		"win7-sp1-x64-ent:0":     `"win7-sp1-x64-ent:0" is not profile:weight`,
		"win7-sp1-x64-ent:x":     `"win7-sp1-x64-ent:x" is not profile:weight`,
		"win7-sp1-x64-ent:1:2":   `is not profile:weight`,
		"win95:3":                "unknown profile win95 (known: win7-sp1-x64-ent, ",
		"":                       "no profile given",
		",":                      "no profile given",
		"win81-x64-ent:1,nope:1": "unknown profile nope",
	} {
		_, err := ParseMix(text)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "--mix: ") {
			t.Errorf("ParseMix(%q) = %v, want an error with %q", text, err, want)
		}
	}
}

func TestProfileOfFollowsTheWeights(t *testing.T) {
	mix := []MixEntry{{"a", 3}, {"b", 1}}
	var got []string
	for i := 0; i < 8; i++ {
		got = append(got, profileOf(mix, i))
	}
	if strings.Join(got, "") != "aaabaaab" {
		t.Errorf("got %v", got)
	}
}

func TestFaultsPickTheSameAgentsAsTheCxxSimulator(t *testing.T) {
	count := func(n int, pct float64, salt int) int {
		c := 0
		for i := 0; i < n; i++ {
			if hasFault(i, pct, salt) {
				c++
			}
		}
		return c
	}
	// The integration test expects "faults acted out: 8 crashes" of 40 at 20%.
	if c := count(40, 20, saltCrash); c != 8 {
		t.Errorf("crashes of 40 at 20%%: %d, want 8", c)
	}
	if c := count(1000, 0, saltHang); c != 0 {
		t.Errorf("0%%: %d", c)
	}
	if c := count(1000, 100, saltLostReboot); c != 1000 {
		t.Errorf("100%%: %d", c)
	}
	// Agent 3 at 25% with salt 4: (3*7919 + 4*104729) % 10000 = 2673 < 2500? no.
	if hasFault(3, 25, saltFailingKB) {
		t.Error("agent 3 should not have the failing KB")
	}
}
