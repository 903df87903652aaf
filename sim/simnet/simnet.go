// Package simnet holds what the authority simulators share to misbehave
// like a real service on the network: dropping a connection with a TCP
// reset, waiting that a client or a shutdown can cut short, and faults
// that fire for the next N requests or a share of them.
package simnet

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
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
