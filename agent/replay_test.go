package agent

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
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

// A replay counts exactly the documents pending when it starts, whatever
// the order in which the submitter's goroutines record and report their
// answers: an answer recorded before the replay looked at the outbox (its
// attempt began earlier) is not the replay's, even when it is reported
// after the replay began; and the replay is not finished while an answer
// of its own is recorded but not yet reported, although the outbox is
// already empty.
func TestReplayCountsItsOwnDocuments(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	sc.script(func(uint64) stamping.Result { return retryable("connection refused") })
	for i := range 3 {
		h.mustSale(cashier, fmt.Sprint("k", i), goodSale)
	}
	s, st := h.a.submit, h.a.Store()
	answer := func(counter uint64) {
		t.Helper()
		if err := st.RecordAnswer(counter, queue.Answer{Status: queue.StatusAccepted, At: h.ft.Wall()}); err != nil {
			t.Fatal(err)
		}
	}
	progress := func() ReplayProgress {
		p, ok := s.Progress()
		if !ok {
			t.Fatal("no replay")
		}
		return p
	}

	// Document 1's answer is on disk before the replay, and its goroutine
	// reports it after the replay began.
	answer(1)
	p, err := h.a.Replay("boss")
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 2 {
		t.Fatalf("replay total %d, want the 2 documents still pending", p.Total)
	}
	s.succeed(h.ft.Wall(), 1, queue.StatusAccepted, nil)
	if p := progress(); p.Done != 0 || p.Accepted != 0 {
		t.Errorf("an answer recorded before the replay was counted in it: %+v", p)
	}

	// Both of the replay's documents are answered; the outbox is empty and
	// the round says so before document 3's goroutine has reported.
	answer(2)
	s.succeed(h.ft.Wall(), 2, queue.StatusAccepted, nil)
	answer(3)
	s.drained(h.ft.Wall())
	if p := progress(); !p.Finished.IsZero() {
		t.Errorf("replay finished with an answer of its own still to report: %+v", p)
	}
	s.succeed(h.ft.Wall(), 3, queue.StatusAccepted, nil)
	if p := progress(); p.Finished.IsZero() || p.Done != 2 || p.Accepted != 2 || p.Total != 2 {
		t.Errorf("replay after its last answer = %+v, want finished with 2 of 2 accepted", p)
	}
}
