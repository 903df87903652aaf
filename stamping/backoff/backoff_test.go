package backoff

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// fixed draws the fraction f of the range: 1 is its top, the ceiling.
func fixed(f float64) func(n int64) int64 {
	return func(n int64) int64 {
		if f >= 1 {
			return n - 1 // exactly: float64(n) may round past the int64 range
		}
		return int64(f * float64(n))
	}
}

// always returns v whatever the range, to test the clamping.
func always(v int64) func(int64) int64 { return func(int64) int64 { return v } }

// With rnd at its top the wait is the ceiling itself: it doubles from one
// second and stops at five minutes.
func TestDelayGrowsAndIsCapped(t *testing.T) {
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300}
	for i, w := range want {
		attempt := i + 1
		if got := Delay(attempt, 0, fixed(1)); got != w*time.Second {
			t.Errorf("Delay(%d, 0, 1) = %v, want %v", attempt, got, w*time.Second)
		}
	}
	for _, attempt := range []int{0, -3, math.MinInt} {
		if got := Delay(attempt, 0, fixed(1)); got != time.Second {
			t.Errorf("Delay(%d) = %v, want the first attempt's 1s", attempt, got)
		}
	}
	for _, attempt := range []int{64, 1000, math.MaxInt} {
		if got := Delay(attempt, 0, fixed(1)); got != DefaultMax {
			t.Errorf("Delay(%d) = %v, want the cap %v", attempt, got, DefaultMax)
		}
	}
}

// Full jitter: the wait is rnd times the ceiling, never outside
// [0, ceiling], for any attempt and any rnd.
func TestDelayJitterStaysWithinBounds(t *testing.T) {
	if got := Delay(3, 0, fixed(0)); got != 0 {
		t.Errorf("rnd 0: %v, want 0", got)
	}
	if got := Delay(3, 0, fixed(0.5)); got != 2*time.Second {
		t.Errorf("rnd 0.5 at attempt 3: %v, want 2s", got)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for attempt := 1; attempt <= 40; attempt++ {
		ceiling := Delay(attempt, 0, fixed(1))
		seen := map[time.Duration]bool{}
		for range 200 {
			d := Delay(attempt, 0, r.Int64N)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: %v outside [0, %v]", attempt, d, ceiling)
			}
			seen[d] = true
		}
		if len(seen) < 100 {
			t.Errorf("attempt %d: only %d distinct waits in 200: no jitter", attempt, len(seen))
		}
	}
	for _, v := range []int64{-1, math.MinInt64} {
		if got := Delay(5, 0, always(v)); got != 0 {
			t.Errorf("rnd %v: %v, want 0", v, got)
		}
	}
	for _, v := range []int64{int64(32 * time.Second), math.MaxInt64} {
		if got := Delay(5, 0, always(v)); got != 16*time.Second {
			t.Errorf("rnd %v: %v, want the ceiling 16s", v, got)
		}
	}
	for range 100 {
		if d := Delay(4, 0, nil); d < 0 || d > 8*time.Second {
			t.Fatalf("nil rnd: %v outside [0, 8s]", d)
		}
	}
}

// Retry-After is a floor, itself bounded by MaxRetryAfter.
func TestDelayHonoursRetryAfter(t *testing.T) {
	cases := []struct {
		attempt    int
		retryAfter time.Duration
		rnd        float64
		want       time.Duration
	}{
		{1, 30 * time.Second, 0, 30 * time.Second},
		{1, 30 * time.Second, 1, 30 * time.Second},
		{10, 30 * time.Second, 1, DefaultMax},               // the backoff is longer
		{2, 20 * time.Minute, 0.5, 20 * time.Minute},        // beyond the cap, still honoured
		{2, 48 * time.Hour, 0.5, MaxRetryAfter},             // but bounded
		{3, -time.Minute, 0.25, time.Second},                // a negative value is ignored
		{3, time.Duration(math.MaxInt64), 0, MaxRetryAfter}, // no overflow
	}
	for _, tc := range cases {
		if got := Delay(tc.attempt, tc.retryAfter, fixed(tc.rnd)); got != tc.want {
			t.Errorf("Delay(%d, %v, %v) = %v, want %v", tc.attempt, tc.retryAfter, tc.rnd, got, tc.want)
		}
	}
}

func TestPolicy(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := p.Delay(i+1, 0, fixed(1)); got != w*time.Millisecond {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	// A cap near the largest Duration: doubling must not overflow.
	huge := Policy{Max: time.Duration(math.MaxInt64)}
	prev := time.Duration(0)
	for attempt := 1; attempt <= 80; attempt++ {
		d := huge.Delay(attempt, 0, fixed(1))
		if d < prev {
			t.Fatalf("attempt %d: %v after %v: overflow", attempt, d, prev)
		}
		prev = d
	}
	if prev < time.Duration(math.MaxInt64)/2 {
		t.Errorf("huge cap never reached: %v", prev)
	}
}
