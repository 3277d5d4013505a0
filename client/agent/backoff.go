package agent

import (
	"math/rand"
	"time"
)

// Backoff is capped exponential backoff with jitter, so a fleet that lost
// the server does not come back in lockstep.
type Backoff struct {
	Initial, Max time.Duration
	attempt      int
	rng          *rand.Rand
}

// NewBackoff starts at initial and doubles up to max.
func NewBackoff(initial, max time.Duration) *Backoff {
	return &Backoff{Initial: initial, Max: max, rng: rand.New(rand.NewSource(time.Now().UnixNano()))}
}

// Next is the next delay: uniform in [base/2, base], base doubling up to Max.
func (b *Backoff) Next() time.Duration {
	base := b.Initial
	for i := 0; i < b.attempt && base < b.Max; i++ {
		base *= 2
	}
	if base > b.Max {
		base = b.Max
	}
	b.attempt++
	half := base / 2
	return half + time.Duration(b.rng.Int63n(int64(base-half)+1))
}

// Reset starts again from Initial.
func (b *Backoff) Reset() { b.attempt = 0 }
