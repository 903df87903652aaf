package agent

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
)

// A replay during an outage reports why nothing moves and when the next
// attempt is made, and stops reporting it once documents go through.
func TestReplayProgressDuringOutage(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	manager := h.user("boss", RoleManager)
	sc.script(func(uint64) stamping.Result { return retryable("dial tcp: connection refused") })
	for i := range 3 {
		h.mustSale(cashier, fmt.Sprint("k", i), goodSale)
	}
	h.step()
	failedAt := h.ft.Wall()
	h.ft.Advance(time.Minute)
	if w := h.do(request{method: "POST", path: "/v1/replay", token: manager}); w.Code != http.StatusAccepted {
		t.Fatalf("POST /v1/replay = %d %s", w.Code, w.Body)
	}
	h.step() // the replay's attempt fails too
	h.step() // nothing is due: the submitter waits for the backoff
	var got struct {
		Replay  ReplayProgress
		Pending int
	}
	decodeBody(t, h.get(manager, "/v1/replay"), &got)
	r := got.Replay
	if r.Total != 3 || r.Done != 0 || got.Pending != 3 || r.LastError != "dial tcp: connection refused" || !r.FailingSince.Equal(failedAt) {
		t.Errorf("progress during the outage = %+v", got)
	}
	if !r.NextAttempt.After(h.ft.Wall()) {
		t.Errorf("next attempt %v is not after now %v", r.NextAttempt, h.ft.Wall())
	}
	out, _ := h.a.Store().Outbox(10)
	soonest, latest := out[0].NextAttempt, out[0].NextAttempt
	for _, e := range out {
		soonest, latest = minTime(soonest, e.NextAttempt), maxTime(latest, e.NextAttempt)
	}
	if !r.NextAttempt.Equal(soonest) {
		t.Errorf("next attempt %v, but the soonest document is due at %v", r.NextAttempt, soonest)
	}

	sc.script(func(uint64) stamping.Result { return stamping.Result{Outcome: stamping.Accepted} })
	h.ft.Advance(latest.Sub(h.ft.Wall()))
	h.step()
	got.Replay = ReplayProgress{}
	decodeBody(t, h.get(manager, "/v1/replay"), &got)
	if r := got.Replay; r.Done != 3 || r.Finished.IsZero() || r.LastError != "" || !r.NextAttempt.IsZero() {
		t.Errorf("progress after the authority came back = %+v", r)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
