package agent

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/device"
	"github.com/egsd/egsd/queue"
)

// TestClockJumpStopsIssuing steps the wall clock back an hour after a
// sale: issuing stops with a clock problem, the refusal is audited, one
// incident opens and the status says so; when the clock is right again the
// next sale is issued and the incident closes.
func TestClockJumpStopsIssuing(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("cashier1", RoleCashier)
	manager := h.user("boss", RoleManager)

	h.ft.Advance(time.Minute)
	first := h.mustSale(cashier, "k1", goodSale)
	if !first.IssuedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("first sale issued at %v, want %v", first.IssuedAt, t0.Add(time.Minute))
	}

	h.ft.SetWall(t0.Add(time.Minute - time.Hour))
	p := problemOf(t, h.sale(cashier, "k2", goodSale), http.StatusConflict)
	if p.Type != problemClock {
		t.Fatalf("type = %q, want %q (%s)", p.Type, problemClock, p.Detail)
	}
	if !strings.Contains(p.Detail, "1h0m0s") {
		t.Errorf("detail %q does not say how far the clock jumped (1h)", p.Detail)
	}

	refusals := func() int {
		n := 0
		for _, e := range h.audit(manager) {
			if e.Action == queue.AuditClock {
				n++
				if e.Actor != "cashier1" {
					t.Errorf("clock_refused entry by %q, want cashier1", e.Actor)
				}
			}
		}
		return n
	}
	if n := refusals(); n != 1 {
		t.Errorf("%d clock_refused audit entries, want 1", n)
	}
	incs := h.incidents(manager)
	if len(incs) != 1 || incs[0].Kind != "clock" || !incs[0].Open() {
		t.Fatalf("incidents = %+v, want one open clock incident", incs)
	}
	if st := h.status(manager); st.State != "clock_error" || len(st.Incidents) != 1 || st.Counter != 1 {
		t.Errorf("status: state %q, %d open incidents, counter %d; want clock_error, 1, 1", st.State, len(st.Incidents), st.Counter)
	}

	// Time passes with the clock still wrong: refused again, same incident.
	h.ft.Advance(10 * time.Second)
	problemOf(t, h.sale(cashier, "k2", goodSale), http.StatusConflict)
	if n := refusals(); n != 2 {
		t.Errorf("%d clock_refused audit entries after two refusals, want 2", n)
	}
	if incs := h.incidents(manager); len(incs) != 1 {
		t.Errorf("a second refusal made %d incidents, want 1: %+v", len(incs), incs)
	}
	// A resend of the sale issued before the jump is still answered.
	if w := h.sale(cashier, "k1", goodSale); w.Code != http.StatusOK {
		t.Errorf("resend during the clock error = %d %s, want 200", w.Code, w.Body)
	}

	// The clock is put right: where it would be had it never jumped.
	right := t0.Add(time.Minute + 10*time.Second)
	h.ft.SetWall(right)
	second := h.mustSale(cashier, "k2", goodSale)
	if second.Counter != 2 || !second.IssuedAt.Equal(right) {
		t.Errorf("sale after the fix: counter %d at %v, want 2 at %v", second.Counter, second.IssuedAt, right)
	}
	incs = h.incidents(manager)
	if len(incs) != 1 || incs[0].Open() {
		t.Fatalf("incidents after the fix = %+v, want the clock incident closed", incs)
	}
	if w := h.get(manager, "/v1/incidents?open=true"); !strings.Contains(w.Body.String(), `"incidents":[]`) {
		t.Errorf("open incidents after the fix: %s", w.Body)
	}
	if st := h.status(manager); st.State != "ready" || len(st.Incidents) != 0 {
		t.Errorf("status after the fix: state %q with %d open incidents", st.State, len(st.Incidents))
	}
	if n := h.journalLen(); n != 2 {
		t.Errorf("journal has %d records, want 2", n)
	}
}

// TestClockSmallStepBackRefused: a step back within the guard's tolerance
// passes the guard, but a document may still never be dated before the
// previous one.
func TestClockSmallStepBackRefused(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("cashier1", RoleCashier)
	h.mustSale(cashier, "k1", goodSale)
	h.ft.SetWall(t0.Add(-time.Second))
	p := problemOf(t, h.sale(cashier, "k2", goodSale), http.StatusConflict)
	if p.Type != problemClock {
		t.Errorf("type = %q, want %q", p.Type, problemClock)
	}
	h.ft.Advance(time.Second) // the wall clock is back at the last document's time
	if v := h.mustSale(cashier, "k2", goodSale); !v.IssuedAt.Equal(t0) {
		t.Errorf("issued at %v, want %v", v.IssuedAt, t0)
	}
}

// TestClockBehindStoreAfterRestart restarts the agent on the same data
// directory with a clock earlier than the last document: the fresh clock
// guard has nothing to compare with, so the store's last issued time must
// refuse, and the incident survives another restart.
func TestClockBehindStoreAfterRestart(t *testing.T) {
	h := newHarness(t, nil)
	h.addUser("cashier1", RoleCashier)
	h.addUser("boss", RoleManager)
	h.ft.Advance(time.Hour)
	last := h.mustSale(h.login("cashier1", testPassword), "k1", goodSale)
	h.close()

	ft := device.NewFakeTime(t0) // an hour before the last document
	h2 := startHarness(t, h.cfg, ft)
	cashier := h2.login("cashier1", testPassword)
	p := problemOf(t, h2.sale(cashier, "k2", goodSale), http.StatusConflict)
	if p.Type != problemClock {
		t.Fatalf("type = %q, want %q (%s)", p.Type, problemClock, p.Detail)
	}
	manager := h2.login("boss", testPassword)
	incs := h2.incidents(manager)
	if len(incs) != 1 || incs[0].Kind != "clock" || !incs[0].Open() {
		t.Fatalf("incidents = %+v, want one open clock incident", incs)
	}
	if got := incs[0].Data["last_issued"]; got != last.IssuedAt.UTC().Format(time.RFC3339Nano) {
		t.Errorf("incident last_issued = %q, want %v", got, last.IssuedAt)
	}
	h2.close()

	// Restarted again, still before the last document: still clock_error.
	h3 := startHarness(t, h.cfg, ft)
	manager = h3.login("boss", testPassword)
	if st := h3.status(manager); st.State != "clock_error" {
		t.Errorf("status after restart with an open clock incident: %q, want clock_error", st.State)
	}
	cashier = h3.login("cashier1", testPassword)
	problemOf(t, h3.sale(cashier, "k2", goodSale), http.StatusConflict)
	if incs := h3.incidents(manager); len(incs) != 1 {
		t.Errorf("%d incidents, want still 1", len(incs))
	}
	// Time catches up with the last document: issuing resumes.
	ft.Advance(time.Hour)
	v := h3.mustSale(cashier, "k2", goodSale)
	if v.Counter != 2 || v.IssuedAt.Before(last.IssuedAt) {
		t.Errorf("sale after the clock caught up: counter %d at %v (last %v)", v.Counter, v.IssuedAt, last.IssuedAt)
	}
	if st := h3.status(manager); st.State != "ready" {
		t.Errorf("state = %q after issuing resumed", st.State)
	}
}
