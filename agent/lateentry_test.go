package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/sale"
)

// crash stops h's agent the way a power cut does: the store closes, but
// nothing the agent writes on a clean stop is written.
func (h *harness) crash() {
	h.t.Helper()
	h.closed = true
	if err := h.a.store.Close(); err != nil {
		h.t.Fatal(err)
	}
}

// unitFailures are the unit failure incidents among incs.
func unitFailures(incs []queue.Incident) []queue.Incident {
	var out []queue.Incident
	for _, inc := range incs {
		if inc.Kind == incidentUnitFailure {
			out = append(out, inc)
		}
	}
	return out
}

// TestRestartAfterGapOpensUnitFailure restarts a unit 15 minutes after it
// crashed: a unit failure incident opens for the window from its last
// sign of life (the last document, later than the last heartbeat) to the
// start, shown in status. A crash with a short gap, and a clean stop with
// a long one, open none.
func TestRestartAfterGapOpensUnitFailure(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("carl", RoleCashier)
	h.ft.Advance(2 * time.Minute)
	h.mustSale(cashier, "k1", goodSale)
	lastDoc := h.ft.Wall()
	h.crash()

	h.ft.Advance(15 * time.Minute)
	h2 := startHarness(t, h.cfg, h.ft)
	manager := h2.user("maria", RoleManager)
	incs := unitFailures(h2.status(manager).Incidents)
	if len(incs) != 1 {
		t.Fatalf("open unit failure incidents after a 15 min gap: %+v, want one", incs)
	}
	inc := incs[0]
	if !inc.Start.Equal(lastDoc) || !inc.Until.Equal(lastDoc.Add(15*time.Minute)) || !inc.Open() {
		t.Errorf("window %v – %v (open %v), want %v – %v, open", inc.Start, inc.Until, inc.Open(), lastDoc, lastDoc.Add(15*time.Minute))
	}
	for _, k := range []string{"device_id", "device_serial", "seller_vat_number", "failure_start", "failure_end"} {
		if inc.Data[k] == "" {
			t.Errorf("incident lacks %s for the authority's notice: %+v", k, inc.Data)
		}
	}
	if !strings.Contains(inc.Detail, "egsd incidents notify "+itoa(inc.ID)+" --reference") || !strings.Contains(inc.Detail, "egsd sale --batch FILE --incident "+itoa(inc.ID)) {
		t.Errorf("detail does not say what to do: %q", inc.Detail)
	}

	// A gap below the threshold is a restart, not a failure.
	h2.crash()
	h2.ft.Advance(9 * time.Minute)
	h3 := startHarness(t, h.cfg, h.ft)
	if n := len(unitFailures(h3.incidents(h3.login("maria", testPassword)))); n != 1 {
		t.Errorf("after a 9 min gap: %d unit failure incidents, want still 1", n)
	}
	// A clean stop followed by a long gap is not a failure either.
	h3.close()
	h3.ft.Advance(12 * time.Hour)
	h4 := startHarness(t, h.cfg, h.ft)
	if n := len(unitFailures(h4.incidents(h4.login("maria", testPassword)))); n != 1 {
		t.Errorf("after a clean stop and 12 h: %d unit failure incidents, want still 1", n)
	}
}

// lateSale is goodSale made at when, entered for incident (0: found by
// the unit).
func lateSale(when time.Time, incident uint64) string {
	s := `{"kind":"invoice","transaction_time":"` + when.Format(time.RFC3339) + `"`
	if incident != 0 {
		s += `,"incident":` + json.Number(itoa(incident)).String()
	}
	return s + `,"lines":[{"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15"}]}`
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// failedHarness is a unit that crashed at t0 and restarted 2 hours later,
// with a unit failure incident for that window, and a manager's token.
func failedHarness(t *testing.T) (*harness, queue.Incident, string) {
	t.Helper()
	h := newHarness(t, nil)
	h.crash()
	h.ft.Advance(2 * time.Hour)
	h2 := startHarness(t, h.cfg, h.ft)
	manager := h2.user("maria", RoleManager)
	incs := unitFailures(h2.incidents(manager))
	if len(incs) != 1 {
		t.Fatalf("unit failure incidents: %+v", incs)
	}
	return h2, incs[0], manager
}

// TestLateEntry enters a sale made during the failure: issued now, in the
// one chain, with the transaction time in the stored sale and on the
// receipt, counted on the incident, and recorded in the audit log with
// who entered it.
func TestLateEntry(t *testing.T) {
	h, inc, manager := failedHarness(t)
	cashier := h.user("carl", RoleCashier)
	before := h.mustSale(cashier, "k0", goodSale)
	when := t0.Add(40 * time.Minute)
	doc := h.mustSale(manager, "late-1", lateSale(when, 0)) // the unit finds the incident
	after := h.mustSale(cashier, "k2", goodSale)
	if doc.Counter != before.Counter+1 || doc.PrevHash != before.Hash || after.PrevHash != doc.Hash {
		t.Errorf("the late entry is not in the one chain: %d/%s after %d/%s", doc.Counter, doc.PrevHash, before.Counter, before.Hash)
	}
	if !doc.IssuedAt.Equal(h.ft.Wall()) {
		t.Errorf("issued at %v, want now (%v)", doc.IssuedAt, h.ft.Wall())
	}
	rec, err := h.a.store.Document(doc.Counter)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := sale.Decode(rec.Sale, sale.Options{DefaultCurrency: "SAR"})
	if err != nil || stored.Late == nil || !stored.Late.TransactionTime.Equal(when) || stored.Late.Incident != inc.ID {
		t.Fatalf("stored sale's late entry: %+v, %v; want %v for incident %d", stored.Late, err, when, inc.ID)
	}
	r, err := h.a.receiptOf(rec)
	if err != nil {
		t.Fatal(err)
	}
	var sold, entered string
	for _, f := range r.Fields {
		switch f.Label {
		case "Sold":
			sold = f.Value
		case "Entered late":
			entered = f.Value
		}
	}
	if sold != when.Format(time.DateTime+" Z07:00") || !strings.Contains(entered, itoa(inc.ID)) {
		t.Errorf("receipt fields Sold %q, Entered late %q", sold, entered)
	}
	if got, _ := h.a.store.Incident(inc.ID); got.LateEntries != 1 {
		t.Errorf("incident counts %d late entries, want 1", got.LateEntries)
	}
	found := false
	for _, e := range h.audit(manager) {
		if e.Action == queue.AuditDocument && e.Subject == itoa(doc.Counter) {
			found = e.Actor == "maria" && e.Details["late_entry.transaction_time"] == when.Format(time.RFC3339) &&
				e.Details["late_entry.incident"] == itoa(inc.ID) && e.Details["hash"] == doc.Hash
		}
	}
	if !found {
		t.Error("the audit log does not record maria entering the document late with its transaction time")
	}

	// A credit note for it works as for any document, and is not late.
	note := h.mustSale(manager, "note-1", `{"kind":"credit_note","original":"`+itoa(doc.Counter)+`","reason":"Returned","lines":[{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15"}]}`)
	if note.OriginalCounter != doc.Counter {
		t.Errorf("credit note references %d, want %d", note.OriginalCounter, doc.Counter)
	}
	if got, _ := h.a.store.Incident(inc.ID); got.LateEntries != 1 {
		t.Errorf("after the credit note the incident counts %d late entries, want 1", got.LateEntries)
	}

	// Entry complete: the manager closes the incident, which keeps the count.
	w := h.sendJSON("POST", "/v1/incidents/"+itoa(inc.ID)+"/close", manager, map[string]string{"summary": "paper log entered"})
	if w.Code != http.StatusOK {
		t.Fatalf("close: %d %s", w.Code, w.Body)
	}
	var closed queue.Incident
	decodeBody(t, w, &closed)
	if closed.Open() || closed.LateEntries != 1 || closed.Summary != "paper log entered" {
		t.Errorf("closed incident %+v", closed)
	}
	// Within late_entry_after_close, a forgotten sale may still be entered.
	h.mustSale(manager, "late-2", lateSale(when.Add(time.Minute), inc.ID))
	h.ft.Advance(h.cfg.Failure.LateEntryAfterClose.Duration + time.Minute)
	manager = h.login("maria", testPassword)
	p := problemOf(t, h.sale(manager, "late-3", lateSale(when.Add(2*time.Minute), inc.ID)), http.StatusBadRequest)
	if !namesField(p, "incident") {
		t.Errorf("entry after the incident's late entry ended: %+v, want it to name incident", p)
	}
	// A resend of an entry made in time still gets its document.
	if w := h.sale(manager, "late-1", lateSale(when, 0)); w.Code != http.StatusOK || w.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("resend of late-1 after the entry ended: %d %s, want 200 replayed", w.Code, w.Body)
	}
}

// TestLateEntryRefusals refuses each bad late entry with the field named,
// and issues nothing.
func TestLateEntryRefusals(t *testing.T) {
	h, inc, manager := failedHarness(t)
	cashier := h.user("carl", RoleCashier)
	clock, err := h.a.store.RaiseIncident(queue.Incident{Kind: incidentClock, Title: "clock"}, "system")
	if err != nil {
		t.Fatal(err)
	}
	now := h.ft.Wall()
	during := t0.Add(30 * time.Minute)
	for i, c := range []struct {
		name   string
		token  string
		body   string
		status int
		field  string
	}{
		{"a cashier", cashier, lateSale(during, inc.ID), http.StatusForbidden, "transaction_time"},
		{"in the future", manager, lateSale(now.Add(time.Minute), 0), http.StatusBadRequest, "transaction_time"},
		{"older than the limit", manager, lateSale(now.Add(-h.cfg.Failure.LateEntryMaxAge.Duration-time.Minute), 0), http.StatusBadRequest, "transaction_time"},
		{"before the failure", manager, lateSale(t0.Add(-time.Minute), 0), http.StatusBadRequest, "transaction_time"},
		{"before the failure, incident named", manager, lateSale(t0.Add(-time.Minute), inc.ID), http.StatusBadRequest, "transaction_time"},
		{"no such incident", manager, lateSale(during, 99), http.StatusBadRequest, "incident"},
		{"not a unit failure", manager, lateSale(during, clock.ID), http.StatusBadRequest, "incident"},
		{"incident without a time", manager, `{"kind":"invoice","incident":1,"lines":[{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15"}]}`, http.StatusBadRequest, "incident"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := problemOf(t, h.sale(c.token, "refused-"+itoa(uint64(i)), c.body), c.status)
			if fs := fields(p); len(fs) != 1 || fs[0] != c.field || !strings.Contains(p.Detail, c.field) {
				t.Errorf("problem %+v, want it to name %s", p, c.field)
			}
		})
	}
	if n := h.journalLen(); n != 0 {
		t.Errorf("%d documents issued by refused late entries", n)
	}
	if got, _ := h.a.store.Incident(inc.ID); got.LateEntries != 0 {
		t.Errorf("refusals counted %d late entries", got.LateEntries)
	}
}

// TestOpenUnitFailureByHand opens a unit failure egsd could not see, then
// enters a sale for it; a cashier may not open one, and a bad since is
// refused naming it.
func TestOpenUnitFailureByHand(t *testing.T) {
	h := newHarness(t, nil)
	manager := h.user("maria", RoleManager)
	cashier := h.user("carl", RoleCashier)
	h.ft.Advance(3 * time.Hour)
	since := t0.Add(time.Hour)
	if w := h.sendJSON("POST", "/v1/incidents", cashier, map[string]string{"kind": "unit-failure", "since": since.Format(time.RFC3339)}); w.Code != http.StatusForbidden {
		t.Errorf("a cashier opened an incident: %d", w.Code)
	}
	for _, c := range []struct{ name, since, until, field string }{
		{"no offset", "2031-03-01T10:00:00", "", "since"},
		{"future", h.ft.Wall().Add(time.Hour).Format(time.RFC3339), "", "since"},
		{"until before since", since.Format(time.RFC3339), t0.Format(time.RFC3339), "until"},
	} {
		p := problemOf(t, h.sendJSON("POST", "/v1/incidents", manager, map[string]string{"kind": "unit-failure", "since": c.since, "until": c.until}), http.StatusBadRequest)
		if !namesField(p, c.field) {
			t.Errorf("%s: %+v, want it to name %s", c.name, p, c.field)
		}
	}
	if p := problemOf(t, h.sendJSON("POST", "/v1/incidents", manager, map[string]string{"kind": "outage", "since": since.Format(time.RFC3339)}), http.StatusBadRequest); !namesField(p, "kind") {
		t.Errorf("kind outage: %+v", p)
	}
	w := h.sendJSON("POST", "/v1/incidents", manager, map[string]string{"kind": "unit-failure", "since": since.Format(time.RFC3339), "cause": "printer jammed, till froze"})
	if w.Code != http.StatusCreated {
		t.Fatalf("open: %d %s", w.Code, w.Body)
	}
	var inc queue.Incident
	decodeBody(t, w, &inc)
	if inc.Kind != incidentUnitFailure || !inc.Start.Equal(since) || !inc.Until.Equal(h.ft.Wall()) || !strings.Contains(inc.Detail, "printer jammed") {
		t.Errorf("opened %+v", inc)
	}
	doc := h.mustSale(manager, "late-1", lateSale(since.Add(time.Minute), inc.ID))
	if doc.Counter != 1 {
		t.Errorf("counter %d", doc.Counter)
	}
	var opened bool
	for _, e := range h.audit(manager) {
		if e.Action == queue.AuditIncident && e.Subject == itoa(inc.ID) && e.Details["event"] == "opened" {
			opened = e.Actor == "maria" && e.ActorKind == queue.ActorUser && e.Details["start"] == since.UTC().Format(time.RFC3339)
		}
	}
	if !opened {
		t.Error("the audit log does not record maria opening the incident with its start")
	}
}

// TestHeartbeatLoop records the agent's clock as the heartbeat while it
// runs (TestRestartAfterGapOpensUnitFailure covers the clean stop).
func TestHeartbeatLoop(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.a.beatEvery(ctx, time.Millisecond) }()
	h.ft.Advance(5 * time.Minute)
	want := h.ft.Wall()
	for {
		hb, ok, err := h.a.store.LastHeartbeat()
		if err != nil {
			t.Fatal(err)
		}
		if ok && hb.At.Equal(want) && !hb.Stopped {
			break
		}
		select {
		case <-done:
			t.Fatal("the loop stopped")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	<-done
}

// TestCorrectiveNoteOfLateEntry: the corrective credit note of a
// late-entered document the authority rejected is issued now, for the
// rejection: it is not itself a late entry and the incident does not
// count it.
func TestCorrectiveNoteOfLateEntry(t *testing.T) {
	h, sc, _ := submitHarness(t)
	manager := h.user("boss", RoleManager)
	inc, err := h.a.openUnitFailure(t0.Add(-time.Hour), t0, "power cut", queue.SystemActor)
	if err != nil {
		t.Fatal(err)
	}
	doc := h.mustSale(manager, "late-1", lateSale(t0.Add(-30*time.Minute), inc.ID))
	rejectSome(sc, doc.Counter)
	h.step()
	w := h.do(request{method: "POST", path: "/v1/documents/" + itoa(doc.Counter) + "/credit-note", token: manager})
	if w.Code != http.StatusCreated {
		t.Fatalf("corrective credit note: %d %s", w.Code, w.Body)
	}
	var note DocumentView
	decodeBody(t, w, &note)
	rec, err := h.a.store.Document(note.Counter)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sale.Decode(rec.Sale, sale.Options{DefaultCurrency: "SAR"})
	if err != nil || s.Late != nil || note.OriginalCounter != doc.Counter {
		t.Errorf("corrective note: late %+v, original %d, %v; want not late, for %d", s.Late, note.OriginalCounter, err, doc.Counter)
	}
	if got, _ := h.a.store.Incident(inc.ID); got.LateEntries != 1 {
		t.Errorf("the incident counts %d late entries, want 1", got.LateEntries)
	}
}

// TestStartWithTooManyOpenUnitFailures: a unit with the most unit failure
// incidents open still starts after a crash; it opens no more.
func TestStartWithTooManyOpenUnitFailures(t *testing.T) {
	h := newHarness(t, nil)
	for range maxOpenUnitFailures {
		if _, err := h.a.openUnitFailure(t0.Add(-time.Hour), t0, "test", queue.SystemActor); err != nil {
			t.Fatal(err)
		}
	}
	h.crash()
	h.ft.Advance(time.Hour)
	h2 := startHarness(t, h.cfg, h.ft)
	if n := len(unitFailures(h2.incidents(h2.user("maria", RoleManager)))); n != maxOpenUnitFailures {
		t.Errorf("%d unit failure incidents open, want %d", n, maxOpenUnitFailures)
	}
}
