// Package fleetsim is purser-fleetsim: a fleet of simulated Windows endpoints
// in one process, each running the real Go agent's loop (purser/client/agent)
// over its own simulated machine (purser/client/sim), against a real
// purser-server.
package fleetsim

import (
	"fmt"
	"strconv"
	"strings"

	"purser/client/sim"
)

// MixEntry is one profile of the fleet and its weight.
type MixEntry struct {
	Profile string
	Weight  int
}

// ParseMix parses "win7-sp1-x64-ent:50,win81-x64-ent:20"; errors name the
// bad entry.
func ParseMix(text string) ([]MixEntry, error) {
	known := sim.ProfileNames()
	var mix []MixEntry
	for _, part := range strings.Split(text, ",") {
		if part == "" {
			continue
		}
		kv := strings.Split(part, ":")
		weight := 0
		if len(kv) == 2 {
			weight, _ = strconv.Atoi(strings.TrimSpace(kv[1]))
		}
		if len(kv) != 2 || weight <= 0 {
			return nil, fmt.Errorf("--mix: %q is not profile:weight (weight > 0)", part)
		}
		found := false
		for _, k := range known {
			found = found || k == kv[0]
		}
		if !found {
			return nil, fmt.Errorf("--mix: unknown profile %s (known: %s)", kv[0], strings.Join(known, ", "))
		}
		mix = append(mix, MixEntry{kv[0], weight})
	}
	if len(mix) == 0 {
		return nil, fmt.Errorf("--mix: no profile given")
	}
	return mix, nil
}

// profileOf is agent i's profile: the mix's weights laid out in slots, over
// and over.
func profileOf(mix []MixEntry, i int) string {
	total := 0
	for _, m := range mix {
		total += m.Weight
	}
	slot := i % total
	for _, m := range mix {
		if slot < m.Weight {
			return m.Profile
		}
		slot -= m.Weight
	}
	return mix[len(mix)-1].Profile
}

// hasFault: agent i has a fault when its slot, spread evenly, falls under the
// percentage. Deterministic: a run with the same flags picks the same
// agents.
func hasFault(i int, pct float64, salt int) bool {
	return pct > 0 && float64((int64(i)*7919+int64(salt)*104729)%10000) < pct*100
}

// Salts of the faults, so each picks different agents.
const (
	saltCrash      = 1
	saltHang       = 2
	saltLostReboot = 3
	saltFailingKB  = 4
)
