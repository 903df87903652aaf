package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
)

func zatcaSeller() agent.SellerConfig {
	return agent.SellerConfig{Name: "Maximum Speed Tech Supply LTD", VATNumber: "399999999900003", IDScheme: "CRN", ID: "1010010000",
		Street: "Prince Sultan", BuildingNumber: "2322", District: "Al-Murabba", City: "Riyadh", PostalCode: "23333", Country: "SA"}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestZATCASubmissionAgainstSimulator onboards a unit against the
// simulator, issues 1,000 simplified and standard documents and notes, and
// checks that the agent reports and clears every one, once, keeping the
// chain; then the simulator goes down while 500 more are issued (all
// stamped at once), an outage incident opens, the manager replays when it
// comes back, everything drains and the incident closes with the count.
func TestZATCASubmissionAgainstSimulator(t *testing.T) {
	u := newZATCAUnit(t, nil)
	const first, outage = 1000, 500
	u.issue(0, first)
	u.drained(30 * time.Second)
	if got := len(u.sim.Accepted(u.token)); got != first {
		t.Fatalf("simulator accepted %d documents, want %d", got, first)
	}
	if breaks := u.sim.ChainBreaks(u.token); len(breaks) != 0 {
		t.Fatalf("chain breaks: %v", breaks)
	}
	recs, _, err := u.a.Store().Documents(0, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	cleared := 0
	for _, r := range recs {
		if r.Status != queue.StatusAccepted && r.Status != queue.StatusAcceptedWithWarnings {
			t.Errorf("document %d is %s: %v", r.Counter, r.Status, r.Messages)
		}
		var ans struct {
			ClearedInvoice string `json:"clearedInvoice"`
		}
		if json.Unmarshal(r.Answer, &ans) == nil && ans.ClearedInvoice != "" {
			cleared++
		}
	}
	if cleared != first/2 {
		t.Errorf("%d documents carry ZATCA's cleared invoice, want the %d standard ones", cleared, first/2)
	}

	// Outage: issuing goes on, an incident opens, and all drains afterwards.
	u.sim.SetDown(true)
	u.issue(first, first+outage)
	waitFor(t, "an outage incident", 30*time.Second, func() bool {
		st, _ := u.a.Status()
		for _, inc := range st.Incidents {
			if inc.Kind == "outage" {
				return true
			}
		}
		return false
	})
	u.sim.SetDown(false)
	if _, err := u.a.Replay("boss"); err != nil { // the manager replays at once
		t.Fatal(err)
	}
	u.drained(60 * time.Second)
	waitFor(t, "the outage incident to close", 30*time.Second, func() bool {
		incs, _ := u.a.Store().Incidents(false, 10)
		return len(incs) == 1 && !incs[0].Open()
	})
	incs, _ := u.a.Store().Incidents(false, 10)
	// The outage starts when the unit first fails to deliver: the few
	// documents issued between the simulator going down and that moment
	// count as issued before it, but all 500 are delivered after it.
	atStart, err := strconv.Atoi(incs[0].Data["counter_at_start"])
	if err != nil || atStart < first || atStart > first+outage {
		t.Fatalf("outage incident counter_at_start = %q, want %d to %d", incs[0].Data["counter_at_start"], first, first+outage)
	}
	if want := fmt.Sprintf("%d documents delivered after the outage, %d of them issued during it", outage, first+outage-atStart); !strings.Contains(incs[0].Summary, want) {
		t.Errorf("outage summary: %q, want %q", incs[0].Summary, want)
	}
	if got := len(u.sim.Accepted(u.token)); got != first+outage {
		t.Errorf("simulator accepted %d documents, want %d (none twice)", got, first+outage)
	}
	if breaks := u.sim.ChainBreaks(u.token); len(breaks) != 0 {
		t.Errorf("chain breaks after the outage: %v", breaks)
	}
}
