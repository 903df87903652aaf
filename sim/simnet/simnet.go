// Package simnet holds what the authority simulators share to misbehave
// like a real service on the network: dropping a connection with a TCP
// reset, waiting that a client or a shutdown can cut short, holding
// requests at a known point, and the fault knobs that fire for the next N
// requests or a share of them.
package simnet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// ResetConn drops the client's connection without an answer: the
// connection is hijacked and closed with SO_LINGER 0, so the client sees a
// TCP reset. Where the connection cannot be hijacked (HTTP/2), the handler
// is aborted instead.
func ResetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// Wait waits for ch to close (ch not nil), for d to pass (d > 0), or
// forever (d < 0), unless ctx or done ends first. It reports whether the
// wait ran its course.
func Wait(ctx context.Context, done <-chan struct{}, ch <-chan struct{}, d time.Duration) bool {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ch:
		return true
	case <-timer:
		return true
	case <-ctx.Done():
		return false
	case <-done:
		return false
	}
}

// Fire decides one "Count or Percent" fault: it fires while *count is
// above zero, counting it down, and otherwise for percent of the calls
// (0–100) at random.
func Fire(count *int, percent int) bool {
	if *count > 0 {
		*count--
		return true
	}
	return percent > 0 && rand.IntN(100) < percent
}

// Knobs are the faults every simulator injects in the same way: latency,
// an HTTP status, a timeout after processing, a connection reset, and the
// whole service down. A "Count" fault fires for the next Count requests
// it applies to, counting down; a "Percent" fault fires at random for
// that share of them (0–100). Count takes precedence while it lasts. The
// zero value injects nothing.
type Knobs struct {
	// Latency delays every request the knobs apply to.
	Latency time.Duration
	// Status, when not zero, is the HTTP status answered instead of
	// processing: to the next StatusCount requests (after which Status
	// returns to zero), to StatusPercent of them, or, with both zero, to
	// every one.
	Status        int
	StatusCount   int
	StatusPercent int
	// Timeout faults process the request, then withhold the answer until
	// the client gives up, and reset the connection.
	TimeoutCount   int
	TimeoutPercent int
	// Reset faults reset the connection before the request is processed.
	ResetCount   int
	ResetPercent int
	// Down resets the connection of every request: the service is
	// unreachable.
	Down bool
}

// Validate checks the ranges: counts not negative, percentages 0–100, a
// status from 300 to 599, latency not negative.
func (k Knobs) Validate() error {
	var errs []error
	for _, p := range []struct {
		name string
		v    int
	}{{"status_percent", k.StatusPercent}, {"timeout_percent", k.TimeoutPercent}, {"reset_percent", k.ResetPercent}} {
		if p.v < 0 || p.v > 100 {
			errs = append(errs, fmt.Errorf("%s is %d; it must be 0 to 100", p.name, p.v))
		}
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"status_count", k.StatusCount}, {"timeout_count", k.TimeoutCount}, {"reset_count", k.ResetCount}} {
		if c.v < 0 {
			errs = append(errs, fmt.Errorf("%s is %d; it must not be negative", c.name, c.v))
		}
	}
	if k.Status != 0 && (k.Status < 300 || k.Status > 599) {
		errs = append(errs, fmt.Errorf("status is %d; it must be 0 (none) or 300 to 599", k.Status))
	}
	if k.Latency < 0 {
		errs = append(errs, errors.New("latency must not be negative"))
	}
	return errors.Join(errs...)
}

// Decision is what the knobs decided for one request.
type Decision struct {
	Down, Reset, Timeout bool
	Latency              time.Duration
	Status               int
}

// Decide decides the faults of one request and counts them down; applies
// says whether the request is one the knobs are limited to (Down applies
// to every request). A request fires at most one of reset, status and
// timeout. The caller serialises calls.
func (k *Knobs) Decide(applies bool) Decision {
	d := Decision{Down: k.Down}
	if d.Down || !applies {
		return d
	}
	d.Latency = k.Latency
	if Fire(&k.ResetCount, k.ResetPercent) {
		d.Reset = true
		return d
	}
	switch {
	case k.Status == 0:
	case k.StatusCount > 0:
		d.Status = k.Status
		// The last of the count switches the status fault off, so that
		// "the next N requests" does not turn into "every request".
		if k.StatusCount--; k.StatusCount == 0 {
			k.Status = 0
		}
		return d
	case k.StatusPercent == 0 || rand.IntN(100) < k.StatusPercent:
		d.Status = k.Status
		return d
	}
	d.Timeout = Fire(&k.TimeoutCount, k.TimeoutPercent)
	return d
}

// Hold makes requests wait at a known point: Start returns a function that
// releases the requests that arrived since; Current is the channel they
// wait on, nil when nothing is held. The zero value holds nothing and is
// safe for concurrent use.
type Hold struct {
	mu sync.Mutex
	ch chan struct{}
}

// Start holds the requests that arrive from now on until release is
// called (once or more).
func (h *Hold) Start() (release func()) {
	ch := make(chan struct{})
	h.mu.Lock()
	h.ch = ch
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			if h.ch == ch {
				h.ch = nil
			}
			h.mu.Unlock()
			close(ch)
		})
	}
}

// Current is the channel a request arriving now waits on, or nil.
func (h *Hold) Current() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch == nil {
		return nil
	}
	return h.ch
}
