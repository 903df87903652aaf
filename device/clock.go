package device

import (
	"fmt"
	"sync"
	"time"
)

// TimeSource reads the wall clock and a monotonic clock. The monotonic
// reading only has to be comparable with earlier readings of the same
// source.
type TimeSource interface {
	Wall() time.Time
	Monotonic() time.Duration
}

// SystemTime is the real clock: the wall clock, and Go's monotonic clock
// measured from process start.
type SystemTime struct{ start time.Time }

// NewSystemTime returns the system's TimeSource.
func NewSystemTime() *SystemTime { return &SystemTime{start: time.Now()} }

// Wall returns the wall-clock time without its monotonic reading.
func (s *SystemTime) Wall() time.Time { return time.Now().Round(0) }

// Monotonic returns the monotonic time since the source was created.
func (s *SystemTime) Monotonic() time.Duration { return time.Since(s.start) }

// ClockJumpError is returned by ClockGuard.Now while the wall clock is
// behind where the monotonic clock says it should be.
type ClockJumpError struct {
	Wall     time.Time // what the wall clock says
	Expected time.Time // where it should be, by the monotonic clock
}

func (e *ClockJumpError) Error() string {
	return fmt.Sprintf("the system clock jumped back by %s (it reads %s, expected about %s); issuing is stopped until the clock is corrected",
		e.Expected.Sub(e.Wall).Round(time.Millisecond), e.Wall.UTC().Format(time.RFC3339), e.Expected.UTC().Format(time.RFC3339))
}

// ClockGuard hands out document times and refuses when the wall clock has
// stepped backwards beyond a tolerance relative to the monotonic clock
// (design.md invariant 5; ZATCA lists "time change" among prohibited
// functions). It keeps refusing until the wall clock is back where it should
// be; forward steps (an NTP correction after boot) are accepted and become
// the new reference.
type ClockGuard struct {
	src       TimeSource
	tolerance time.Duration

	mu         sync.Mutex
	anchorWall time.Time     // wall reading at the reference point
	anchorMono time.Duration // monotonic reading at the reference point
}

// NewClockGuard returns a guard over src that allows backward steps up to
// tolerance.
func NewClockGuard(src TimeSource, tolerance time.Duration) *ClockGuard {
	return &ClockGuard{src: src, tolerance: tolerance, anchorWall: src.Wall(), anchorMono: src.Monotonic()}
}

// Now returns the wall-clock time, or a *ClockJumpError.
func (g *ClockGuard) Now() (time.Time, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	wall, mono := g.src.Wall(), g.src.Monotonic()
	expected := g.anchorWall.Add(mono - g.anchorMono)
	if wall.Before(expected.Add(-g.tolerance)) {
		return wall, &ClockJumpError{Wall: wall, Expected: expected}
	}
	// Only move the reference forward, so that small backward steps
	// cannot add up past the tolerance unnoticed.
	if !wall.Before(expected) {
		g.anchorWall, g.anchorMono = wall, mono
	}
	return wall, nil
}

// FakeTime is a TimeSource for tests whose wall and monotonic clocks are
// set by hand.
type FakeTime struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

// NewFakeTime starts a fake clock at wall.
func NewFakeTime(wall time.Time) *FakeTime { return &FakeTime{wall: wall} }

// Wall returns the fake wall time.
func (f *FakeTime) Wall() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.wall }

// Monotonic returns the fake monotonic time.
func (f *FakeTime) Monotonic() time.Duration { f.mu.Lock(); defer f.mu.Unlock(); return f.mono }

// Advance moves both clocks forward by d, as real time passing does.
func (f *FakeTime) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wall, f.mono = f.wall.Add(d), f.mono+d
}

// SetWall steps the wall clock alone, as a user or a bad NTP server does.
func (f *FakeTime) SetWall(t time.Time) { f.mu.Lock(); defer f.mu.Unlock(); f.wall = t }
