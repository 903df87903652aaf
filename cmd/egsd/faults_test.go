package main

import (
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	zatcasim "github.com/egsd/egsd/sim/zatca"
)

// TestZATCAFaultMatrix runs the agent against the simulator's failures
// (design.md §4) and checks that nothing is lost, duplicated or stuck.
func TestZATCAFaultMatrix(t *testing.T) {
	t.Run("accepted but the answer was lost: the identical payload is retried and 409 counts as success", func(t *testing.T) {
		u := newZATCAUnit(t, nil)
		u.dropAfterAccept.Store(4)
		u.issue(0, 8)
		u.drained(30 * time.Second)
		st := u.sim.Stats()
		if got := len(u.sim.Accepted(u.token)); got != 8 || st.Duplicates < 4 {
			t.Fatalf("accepted %d, duplicates %d; want 8 accepted once and at least 4 duplicate answers", got, st.Duplicates)
		}
		u.allAccepted(8)
	})
	t.Run("429 and 503 back off and then go through", func(t *testing.T) {
		u := newZATCAUnit(t, nil)
		if err := u.sim.SetFaults(zatcasim.Faults{Status: 429, StatusCount: 3, RetryAfter: time.Second}); err != nil {
			t.Fatal(err)
		}
		u.issue(0, 4)
		u.drained(30 * time.Second)
		if err := u.sim.SetFaults(zatcasim.Faults{Status: 503, StatusCount: 3}); err != nil {
			t.Fatal(err)
		}
		u.issue(4, 8)
		u.drained(30 * time.Second)
		if st := u.sim.Stats(); st.Faults < 6 {
			t.Errorf("%d faults answered, want at least 6", st.Faults)
		}
		u.allAccepted(8)
	})
	t.Run("a 400 rejection keeps its slot and does not block the queue", func(t *testing.T) {
		u := newZATCAUnit(t, nil)
		if err := u.sim.SetFaults(zatcasim.Faults{RejectICVs: []uint64{3}}); err != nil {
			t.Fatal(err)
		}
		u.issue(0, 8)
		u.drained(30 * time.Second)
		r, err := u.a.Store().Document(3)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != queue.StatusRejected || len(r.Messages) == 0 {
			t.Fatalf("document 3: %s %v, want rejected with the authority's messages", r.Status, r.Messages)
		}
		for c := uint64(4); c <= 8; c++ {
			if r, _ := u.a.Store().Document(c); r.Status == queue.StatusRejected {
				t.Errorf("document %d after the rejection: %s", c, r.Status)
			}
		}
		if breaks := u.sim.ChainBreaks(u.token); len(breaks) != 0 {
			t.Errorf("chain breaks: %v", breaks)
		}
	})
	t.Run("401 stops submission and opens an incident; a replay resumes", func(t *testing.T) {
		u := newZATCAUnit(t, nil)
		if err := u.sim.SetFaults(zatcasim.Faults{Status: 401}); err != nil {
			t.Fatal(err)
		}
		u.issue(0, 4)
		waitFor(t, "a credentials incident", 30*time.Second, func() bool {
			st, _ := u.a.Status()
			return st.Submission.Paused != "" && len(st.Incidents) == 1 && st.Incidents[0].Kind == "credentials"
		})
		requests := u.sim.Stats().Requests
		time.Sleep(1500 * time.Millisecond) // longer than max_backoff: a running worker would have retried
		if got := u.sim.Stats().Requests; got != requests {
			t.Fatalf("%d requests while submission is paused", got-requests)
		}
		if err := u.sim.SetFaults(zatcasim.Faults{}); err != nil {
			t.Fatal(err)
		}
		if _, err := u.a.Replay("boss"); err != nil {
			t.Fatal(err)
		}
		u.drained(30 * time.Second)
		u.allAccepted(4)
	})
	t.Run("303 clearance off: standard documents are reported instead", func(t *testing.T) {
		u := newZATCAUnit(t, nil)
		if err := u.sim.SetFaults(zatcasim.Faults{ClearanceOff: true}); err != nil {
			t.Fatal(err)
		}
		u.issue(0, 4)
		u.drained(30 * time.Second)
		recs := u.sim.Accepted(u.token)
		if len(recs) != 4 {
			t.Fatalf("accepted %d documents, want 4", len(recs))
		}
		for _, r := range recs {
			if r.Endpoint != zatcasim.EndpointReporting {
				t.Errorf("document %d went to %s, want reporting", r.ICV, r.Endpoint)
			}
		}
		u.allAccepted(4)
	})
}

func (u *zatcaUnit) allAccepted(n uint64) {
	u.t.Helper()
	for c := uint64(1); c <= n; c++ {
		r, err := u.a.Store().Document(c)
		if err != nil {
			u.t.Fatal(err)
		}
		if r.Status != queue.StatusAccepted && r.Status != queue.StatusAcceptedWithWarnings {
			u.t.Errorf("document %d: %s %v", c, r.Status, r.Messages)
		}
	}
	if _, err := u.a.Store().Check(queue.CheckOptions{}); err != nil {
		u.t.Error(err)
	}
}
