package agent

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
)

// The state is derived from facts, the most severe first: what stops
// issuing comes before what stops delivery.
func TestUnitState(t *testing.T) {
	since := time.Date(2031, 3, 1, 8, 0, 0, 0, time.UTC)
	notReady := errors.Join(stamping.ErrNotReady, errors.New("no stamping certificate; onboard it first"))
	for _, tc := range []struct {
		name    string
		facts   unitFacts
		state   string
		issuing bool
		detail  []string
	}{
		{"nothing wrong", unitFacts{}, StateReady, true, nil},
		{"failing, not yet an outage", unitFacts{failingSince: since, lastDelivery: "503"}, StateReady, true, nil},
		{"outage", unitFacts{outage: 7, outageStarted: since, lastDelivery: "connection refused"}, StateOffline, true,
			[]string{"unreachable since 2031-03-01T08:00:00Z", "connection refused", "egsd incidents notify 7 --reference REF"}},
		{"credentials refused", unitFacts{paused: "the authority refused the unit's credentials: 401", outage: 7}, StateSubmissionPaused, true,
			[]string{"401", "egsd onboard --renew", "egsd replay"}},
		{"disk low, offline too", unitFacts{diskLow: true, diskDetail: "only 1 MiB is free", outage: 7, paused: "x"}, StateDiskLow, true, []string{"only 1 MiB"}},
		{"disk full", unitFacts{diskFull: true, diskLow: true, diskDetail: "the disk is full", outage: 7}, StateDiskFull, false, []string{"full"}},
		{"clock behind", unitFacts{clockError: true, diskFull: true, paused: "x", outage: 7}, StateClockError, false, []string{"clock"}},
		{"not onboarded", unitFacts{notReady: notReady, clockError: true, paused: "x"}, StateNotOnboarded, false, []string{"onboard it first"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, issuing, detail := unitState(tc.facts)
			if state != tc.state || issuing != tc.issuing {
				t.Errorf("unitState = %q, issuing %t; want %q, %t", state, issuing, tc.state, tc.issuing)
			}
			if tc.detail == nil && detail != "" {
				t.Errorf("detail %q, want none", detail)
			}
			for _, w := range tc.detail {
				if !strings.Contains(detail, w) {
					t.Errorf("detail %q lacks %q", detail, w)
				}
			}
		})
	}
}

// Through the status: an outage makes the unit offline, refused
// credentials make it paused; both still issue.
func TestStatusStateFromSubmission(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	manager := h.user("boss", RoleManager)
	sc.script(func(uint64) stamping.Result { return retryable("connection refused") })
	h.mustSale(cashier, "k1", goodSale)
	h.step()
	if st := h.status(manager); st.State != StateReady || !st.Issuing {
		t.Errorf("after one failure: state %q; the outage threshold has not passed", st.State)
	}
	h.ft.Advance(h.cfg.Submit.OutageAfter.Duration + time.Minute)
	h.step()
	if st := h.status(manager); st.State != StateOffline || !st.Issuing || !strings.Contains(st.StateDetail, "connection refused") {
		t.Errorf("after outage_after: state %q, issuing %t, detail %q", st.State, st.Issuing, st.StateDetail)
	}
	sc.script(func(uint64) stamping.Result {
		return stamping.Result{Outcome: stamping.CredentialError, Messages: []string{"401 Unauthorized"}}
	})
	h.ft.Advance(time.Hour)
	h.step()
	if st := h.status(manager); st.State != StateSubmissionPaused || !st.Issuing || !strings.Contains(st.StateDetail, "401") {
		t.Errorf("credentials refused: state %q, issuing %t, detail %q", st.State, st.Issuing, st.StateDetail)
	}
}
