// Package backoff computes how long a submission worker waits before it
// sends a document again: exponential backoff with full jitter, with the
// authority's Retry-After as a floor (design.md §4). It is regime-neutral:
// every regime's Retryable outcome is retried the same way.
package backoff

import (
	"math"
	"math/rand/v2"
	"time"
)

// Defaults of a zero Policy.
const (
	// DefaultBase is the ceiling of the first wait.
	DefaultBase = time.Second
	// DefaultMax caps every wait that the policy itself chooses.
	DefaultMax = 5 * time.Minute
	// MaxRetryAfter bounds how long an authority's Retry-After can hold a
	// document: ZATCA's 24-hour reporting deadline must not be lost to one
	// wrong header.
	MaxRetryAfter = time.Hour
)

// Policy is exponential backoff with full jitter. The zero value is ready
// to use: base one second, cap five minutes.
type Policy struct {
	// Base is the ceiling of the wait after the first failed attempt; it
	// doubles with every further attempt. Zero means DefaultBase.
	Base time.Duration
	// Max caps the ceiling. Zero means DefaultMax.
	Max time.Duration
}

// Delay is the zero Policy's Delay.
func Delay(attempt int, retryAfter time.Duration, rnd func(n int64) int64) time.Duration {
	return Policy{}.Delay(attempt, retryAfter, rnd)
}

// Delay returns how long to wait after the attempt-th failed attempt (1
// for the first; smaller values count as 1). The wait is drawn uniformly
// from [0, min(Max, Base·2^(attempt-1))] — "full jitter", which spreads
// the retries of many units after an outage — and is never shorter than
// retryAfter, itself bounded by MaxRetryAfter.
//
// rnd(n) returns a number in [0, n), like math/rand/v2's Int64N (nil
// means that); values outside are clamped. Tests pass a fixed function.
func (p Policy) Delay(attempt int, retryAfter time.Duration, rnd func(n int64) int64) time.Duration {
	base, ceiling := p.Base, p.Max
	if base <= 0 {
		base = DefaultBase
	}
	if ceiling <= 0 {
		ceiling = DefaultMax
	}
	attempt = max(attempt, 1)
	// Double base until it reaches the cap: the loop stops after at most
	// 63 rounds and, unlike a shift by attempt, cannot overflow.
	c := base
	for i := 1; i < attempt && c < ceiling; i++ {
		if c > ceiling/2 {
			c = ceiling
		} else {
			c *= 2
		}
	}
	ceiling = min(c, ceiling)
	if rnd == nil {
		rnd = rand.Int64N
	}
	n := int64(ceiling)
	if n < math.MaxInt64 {
		n++ // the ceiling itself can be drawn
	}
	d := time.Duration(min(max(rnd(n), 0), int64(ceiling)))
	return max(d, min(retryAfter, MaxRetryAfter))
}
