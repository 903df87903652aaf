package device_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egsd/egsd/device"
)

var start = time.Date(2031, time.March, 1, 9, 0, 0, 0, time.UTC)

// step is one thing that happens to the clocks, followed by a call to
// ClockGuard.Now.
type step struct {
	advance time.Duration // both clocks move forward: time passing
	shift   time.Duration // then the wall clock alone steps by this
	jump    time.Duration // Now must refuse with a jump of exactly this; 0 means accept
}

func TestClockGuard(t *testing.T) {
	const tol = 2 * time.Second
	tests := []struct {
		name      string
		tolerance time.Duration
		steps     []step
	}{
		{"first reading", tol, []step{{}}},
		{"time passing", tol, []step{{advance: time.Second}, {advance: time.Minute}, {advance: 24 * time.Hour}}},
		{"no time passing", tol, []step{{}, {}, {}}},
		{"back within tolerance", tol, []step{{advance: time.Minute}, {shift: -time.Second}}},
		{"back exactly the tolerance", tol, []step{{shift: -tol}}},
		{"back just beyond the tolerance", tol, []step{{shift: -tol - time.Nanosecond, jump: tol + time.Nanosecond}}},
		{"back an hour", tol, []step{{advance: time.Minute}, {shift: -time.Hour, jump: time.Hour}}},
		{"refused while time passes", tol, []step{
			{shift: -time.Hour, jump: time.Hour},
			{advance: time.Minute, jump: time.Hour},
			{advance: time.Hour, jump: time.Hour},
		}},
		{"refused until the clock is back", tol, []step{
			{shift: -time.Hour, jump: time.Hour},
			{shift: 30 * time.Minute, jump: 30 * time.Minute},
			{shift: 30*time.Minute - tol - time.Second, jump: tol + time.Second},
			{shift: time.Second},               // within tolerance again
			{advance: time.Minute, shift: tol}, // and exactly where it should be
			{shift: -time.Second},              // the reference did not move back
		}},
		{"forward jump accepted", tol, []step{{advance: time.Second, shift: time.Hour}, {advance: time.Second}}},
		{"forward jump becomes the reference", tol, []step{
			{shift: time.Hour},
			// Going back to where the clock was before the forward jump is
			// now a jump back of an hour.
			{shift: -time.Hour, jump: time.Hour},
		}},
		{"forward jump, then back within tolerance", tol, []step{{shift: time.Hour}, {advance: time.Minute, shift: -tol}}},
		{"small steps back add up", tol, []step{
			{shift: -time.Second},
			{shift: -time.Second}, // 2s back in all: at the tolerance
			{shift: -time.Second, jump: 3 * time.Second},
		}},
		{"small steps back with time passing", tol, []step{
			{advance: time.Minute, shift: -1500 * time.Millisecond},
			{advance: time.Hour},
			{advance: time.Second, shift: -1500 * time.Millisecond, jump: 3 * time.Second},
		}},
		{"zero tolerance", 0, []step{{advance: time.Second}, {shift: -time.Nanosecond, jump: time.Nanosecond}}},
		{"a step back then forward again", tol, []step{
			{shift: -time.Second},
			{shift: time.Second},
			{shift: -tol}, // the reference moved up to where the clock is again
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ft := device.NewFakeTime(start)
			g := device.NewClockGuard(ft, tc.tolerance)
			for i, s := range tc.steps {
				ft.Advance(s.advance)
				ft.SetWall(ft.Wall().Add(s.shift))
				got, err := g.Now()
				if !got.Equal(ft.Wall()) {
					t.Errorf("step %d: Now() = %v, want the wall clock %v", i, got, ft.Wall())
				}
				var jump *device.ClockJumpError
				switch {
				case s.jump == 0 && err != nil:
					t.Fatalf("step %d: Now() = %v, want no error", i, err)
				case s.jump != 0 && !errors.As(err, &jump):
					t.Fatalf("step %d: Now() = %v, want a *ClockJumpError of %v", i, err, s.jump)
				case s.jump != 0:
					if !jump.Wall.Equal(ft.Wall()) {
						t.Errorf("step %d: error's Wall = %v, want %v", i, jump.Wall, ft.Wall())
					}
					if d := jump.Expected.Sub(jump.Wall); d != s.jump {
						t.Errorf("step %d: jump of %v, want %v", i, d, s.jump)
					}
				}
			}
		})
	}
}

func TestClockJumpErrorMessage(t *testing.T) {
	e := &device.ClockJumpError{Wall: start, Expected: start.Add(90 * time.Minute)}
	msg := e.Error()
	for _, want := range []string{"1h30m0s", "2031-03-01T09:00:00Z", "2031-03-01T10:30:00Z", "stopped"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not contain %q", msg, want)
		}
	}
}

func TestFakeTime(t *testing.T) {
	ft := device.NewFakeTime(start)
	if !ft.Wall().Equal(start) || ft.Monotonic() != 0 {
		t.Fatalf("new FakeTime: %v %v", ft.Wall(), ft.Monotonic())
	}
	ft.Advance(time.Minute)
	if !ft.Wall().Equal(start.Add(time.Minute)) || ft.Monotonic() != time.Minute {
		t.Errorf("after Advance: %v %v", ft.Wall(), ft.Monotonic())
	}
	ft.SetWall(start.Add(-time.Hour))
	if !ft.Wall().Equal(start.Add(-time.Hour)) || ft.Monotonic() != time.Minute {
		t.Errorf("SetWall moved the monotonic clock or missed the wall: %v %v", ft.Wall(), ft.Monotonic())
	}
}

// TestClockGuardConcurrent is for the race detector: the guard is used
// by every sale at once.
func TestClockGuardConcurrent(t *testing.T) {
	ft := device.NewFakeTime(start)
	g := device.NewClockGuard(ft, time.Second)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				ft.Advance(time.Millisecond)
				if _, err := g.Now(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestSystemTime(t *testing.T) {
	s := device.NewSystemTime()
	// Wall readings carry no monotonic clock, so they compare and
	// serialise as plain wall times.
	if w := s.Wall(); strings.Contains(w.String(), "m=") {
		t.Errorf("Wall() = %v carries a monotonic reading", w)
	}
	a := s.Monotonic()
	b := s.Monotonic()
	if a < 0 || b < a {
		t.Errorf("Monotonic went %v then %v", a, b)
	}
	g := device.NewClockGuard(s, 2*time.Second)
	if _, err := g.Now(); err != nil {
		t.Errorf("guard over the system clock: %v", err)
	}
}
