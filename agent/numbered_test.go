package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/device"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/testregime"
)

// numberedConfig is the numbered test-remote regime against auth, with
// submission on and a concurrency the numbered submitter must ignore.
func numberedConfig(t *testing.T, auth *testregime.Authority) Config {
	t.Helper()
	name := t.Name()
	t.Cleanup(testregime.UseAuthority(name, auth))
	cfg := testConfig(t)
	cfg.Regime.Name = testregime.Remote
	cfg.Regime.Options = map[string]any{"numbered": true, "authority": name}
	cfg.Submit.Enabled = true
	cfg.Submit.Concurrency = 8
	return cfg
}

// drain steps the submitter, past every backoff, until the outbox is empty.
func (h *harness) drain() {
	h.t.Helper()
	for range 50 {
		h.step()
		if st, err := h.a.Store().OutboxStats(); err != nil || st.Pending == 0 {
			return
		}
		h.ft.Advance(time.Hour)
	}
	h.t.Fatal("the outbox does not drain")
}

// checkNumbering checks what the authority and the store hold against each
// other: the authority saw numbers 1..n with no violation, each accepted
// document once, and every accepted document's record carries the number
// the authority accepted it under; rejected documents carry none.
func checkNumbering(t *testing.T, s *queue.Store, auth *testregime.Authority, rejected ...uint64) {
	t.Helper()
	if v := auth.Violations(); len(v) != 0 {
		t.Errorf("the authority saw violations: %q", v)
	}
	accepted := auth.Accepted()
	head, err := s.Head()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for c := uint64(1); c <= head.Counter; c++ {
		r, err := s.Document(c)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(rejected, c) {
			if r.Status != queue.StatusRejected || r.AuthorityNumber != 0 {
				t.Errorf("document %d: %s with number %d, want rejected without one", c, r.Status, r.AuthorityNumber)
			}
			continue
		}
		n++
		if r.Status != queue.StatusAccepted || r.AuthorityNumber != n || accepted[n] != r.UUID {
			t.Errorf("document %d: %s with number %d; the authority has %d for %q, want %s", c, r.Status, r.AuthorityNumber, n, accepted[n], r.UUID)
		}
	}
	if uint64(len(accepted)) != n || auth.Next() != n+1 {
		t.Errorf("the authority accepted %d documents and expects %d, want %d and %d", len(accepted), auth.Next(), n, n+1)
	}
	if seq, err := s.AuthoritySequence(); err != nil || seq != (queue.AuthoritySequence{Next: n + 1}) {
		t.Errorf("sequence = %+v, %v; want next %d and none in flight", seq, err, n+1)
	}
}

// TestNumberedSubmission: whatever the concurrency, documents go in issue
// order one at a time; a rejected one gives its number to the next, a
// timed-out one is looked up rather than sent again, and the authority
// sees 1..n with no gap and no duplicate.
func TestNumberedSubmission(t *testing.T) {
	auth := testregime.NewAuthority()
	h := startHarness(t, numberedConfig(t, auth), device.NewFakeTime(t0))
	cashier := h.user("ana", RoleCashier)
	for i := range 6 {
		h.mustSale(cashier, fmt.Sprint("k", i), goodSale)
	}
	auth.Reject(3, "buyer PIN unknown")
	auth.SetFaults(testregime.Faults{TimeoutAfterAccept: 1})
	var order []uint64
	h.a.submit.numberedHook = func(point string, counter uint64) error {
		if point == pointNumbered {
			order = append(order, counter)
		}
		return nil
	}
	h.step()
	// The first answer was lost: nothing else went out behind it.
	if !slices.Equal(order, []uint64{1}) || h.record(1).Status != queue.StatusPending {
		t.Fatalf("after a lost answer the submitter sent %v; document 1 %s", order, h.record(1).Status)
	}
	if st := h.status(cashier); st.AuthorityNumbers == nil || st.AuthorityNumbers.Next != 1 || st.AuthorityNumbers.InFlight == nil ||
		st.AuthorityNumbers.InFlight.Counter != 1 || st.AuthorityNumbers.InFlight.Number != 1 {
		t.Errorf("status while number 1 is unanswered: %+v", st.AuthorityNumbers)
	}
	h.drain()
	if want := []uint64{1, 1, 2, 3, 4, 5, 6}; !slices.Equal(order, want) {
		t.Errorf("submission order %v, want %v", order, want)
	}
	checkNumbering(t, h.a.Store(), auth, 3)
	if st := auth.Stats(); st.Sends != 6 || st.Lookups != 1 {
		t.Errorf("authority stats %+v: want 6 sends (the timed-out one not sent again) and 1 lookup", st)
	}
	if r := h.record(3); !slices.Equal(r.Messages, []string{"buyer PIN unknown"}) {
		t.Errorf("rejected document's messages %q", r.Messages)
	}
	var view DocumentView
	decodeBody(t, h.get(cashier, "/v1/documents/4"), &view)
	if view.AuthorityNumber != 3 {
		t.Errorf("GET /v1/documents/4 authority_number = %d, want 3", view.AuthorityNumber)
	}
	if st := h.status(cashier); st.AuthorityNumbers == nil || st.AuthorityNumbers.Next != 6 || st.AuthorityNumbers.InFlight != nil {
		t.Errorf("status after the drain: %+v", st.AuthorityNumbers)
	}
}

// TestNumberedOneInFlight runs the submitter's loop with concurrency 8
// while the authority is slow: never more than one request is at the
// authority.
func TestNumberedOneInFlight(t *testing.T) {
	auth := testregime.NewAuthority()
	h := startHarness(t, numberedConfig(t, auth), device.NewFakeTime(t0))
	cashier := h.user("ana", RoleCashier)
	inFlight, most := 0, 0
	release := make(chan struct{})
	h.a.submit.numberedHook = func(point string, _ uint64) error {
		switch point {
		case pointNumbered:
			inFlight++
			most = max(most, inFlight)
			<-release
		case pointAnswered:
			inFlight--
		}
		return nil
	}
	for i := range 5 {
		h.mustSale(cashier, fmt.Sprint("k", i), goodSale)
	}
	runSubmitter(t, h)
	for range 5 {
		release <- struct{}{}
	}
	waitFor(t, "the outbox to drain", func() bool { st, _ := h.a.Store().OutboxStats(); return st.Pending == 0 })
	if most != 1 {
		t.Errorf("%d requests were in flight at once, want 1", most)
	}
	checkNumbering(t, h.a.Store(), auth)
}

var errCrash = errors.New("the unit stopped here")

// TestNumberedCrashPoints stops the unit at each point of a numbered
// submission — before the number is stored, after it is stored but before
// the request, after the authority accepted but before the answer is
// recorded — on an accepted and on a rejected document, and restarts it
// on the same data directory: nothing is lost, nothing is sent twice, and
// the authority sees numbers with no gap.
func TestNumberedCrashPoints(t *testing.T) {
	for _, point := range []string{pointBeforeNumber, pointNumbered, pointAnswered} {
		for _, tc := range []struct {
			name   string
			reject bool
			faults testregime.Faults
		}{{"accepted", false, testregime.Faults{}}, {"rejected", true, testregime.Faults{}}, {"stale lookup", false, testregime.Faults{StaleLookup: true}}} {
			t.Run(point+"/"+tc.name, func(t *testing.T) {
				auth := testregime.NewAuthority()
				cfg := numberedConfig(t, auth)
				ft := device.NewFakeTime(t0)
				h := startHarness(t, cfg, ft)
				cashier := h.user("ana", RoleCashier)
				for i := range 4 {
					h.mustSale(cashier, fmt.Sprint("k", i), goodSale)
				}
				if tc.reject {
					auth.Reject(2, "refused")
				}
				h.a.submit.numberedHook = func(p string, counter uint64) error {
					if p == point && counter == 2 {
						return errCrash
					}
					return nil
				}
				if _, err := h.a.submit.step(context.Background()); !errors.Is(err, errCrash) {
					t.Fatalf("step = %v, want the crash at %s", err, point)
				}
				h.close() // checks the store as the crash left it
				auth.SetFaults(tc.faults)

				h = startHarness(t, cfg, ft)
				h.drain()
				var rejected []uint64
				if tc.reject {
					rejected = []uint64{2}
				}
				checkNumbering(t, h.a.Store(), auth, rejected...)
				sends := 4
				if point == pointAnswered && (tc.reject || tc.faults.StaleLookup) {
					// Sent again after a lookup that found nothing: a
					// refused document is refused again, an accepted one
					// is answered as a duplicate, never taken twice.
					sends = 5
				}
				if st := auth.Stats(); st.Sends != sends {
					t.Errorf("authority stats %+v, want %d sends", st, sends)
				}
			})
		}
	}
}

// TestNumberedReceipts: a numbered regime's receipt prints only once the
// authority has signed, with the signed facts; a configured provisional
// slip prints at once, marked NOT A TAX INVOICE and without a QR; a
// rejected document never prints a fiscal receipt.
func TestNumberedReceipts(t *testing.T) {
	auth := testregime.NewAuthority()
	cfg := numberedConfig(t, auth)
	h, p := printerHarness(t, func(c *Config) {
		c.Regime, c.Submit = cfg.Regime, cfg.Submit
		c.Printer.ProvisionalSlip = true
	})
	cashier, manager := h.user("ana", RoleCashier), h.user("boss", RoleManager)
	h.mustSale(cashier, "k1", goodSale)
	h.mustSale(cashier, "k2", goodSale)
	auth.Reject(2, "refused")
	jobs, _ := h.a.Store().PrintJobs(0)
	want := []struct {
		copy  int
		state queue.PrintState
	}{{0, queue.PrintAwaitingAnswer}, {queue.ProvisionalSlip, queue.PrintQueued}, {0, queue.PrintAwaitingAnswer}, {queue.ProvisionalSlip, queue.PrintQueued}}
	if len(jobs) != len(want) {
		t.Fatalf("print queue %+v", jobs)
	}
	for i, j := range jobs {
		if j.Copy != want[i].copy || j.State != want[i].state {
			t.Errorf("print job %d = %+v, want copy %d %s", i, j, want[i].copy, want[i].state)
		}
	}
	if pr := problemOf(t, h.do(request{method: "POST", path: "/v1/documents/1/print", token: manager}), http.StatusConflict); !strings.Contains(pr.Detail, "not signed") {
		t.Errorf("reprint before the signature: %+v", pr)
	}
	for h.a.print.printNext(context.Background()) {
	}
	slips := p.Receipts()
	if len(slips) != 2 {
		t.Fatalf("%d receipts printed before the answers, want the 2 slips", len(slips))
	}
	for _, s := range slips {
		if strings.Count(s.Text, "NOT A TAX INVOICE") < 2 || len(s.QR) != 0 || strings.Contains(s.Text, "T-00000") {
			t.Errorf("provisional slip:\n%s\nQR %q", s.Text, s.QR)
		}
	}

	h.step()
	for h.a.print.printNext(context.Background()) {
	}
	all := p.Receipts()
	if len(all) != 3 {
		t.Fatalf("%d receipts printed, want the 2 slips and the signed receipt of document 1 only", len(all))
	}
	signed := all[2]
	info, err := h.a.regime.(stamping.AuthoritySigned).Signed(h.record(1).Answer)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(signed.QR, []string{info.QR}) || !strings.Contains(signed.Text, "AUTH/1") || strings.Contains(signed.Text, "NOT A TAX INVOICE") {
		t.Errorf("signed receipt (QR %q, want %q):\n%s", signed.QR, info.QR, signed.Text)
	}
	if pr := problemOf(t, h.do(request{method: "POST", path: "/v1/documents/2/print", token: manager}), http.StatusConflict); !strings.Contains(pr.Detail, "rejected") {
		t.Errorf("reprint of a rejected document: %+v", pr)
	}
	if jobs, _ := h.a.Store().PrintJobs(0); len(jobs) != 0 {
		t.Errorf("print queue after the answers: %+v", jobs)
	}
	checkNumbering(t, h.a.Store(), auth, 2)
}

// TestNumberedOutageAndReplay: an outage of a numbered regime's authority
// opens the incident; the manager's replay drains the queue in order,
// counts every document, and closes the incident.
func TestNumberedOutageAndReplay(t *testing.T) {
	auth := testregime.NewAuthority()
	h := startHarness(t, numberedConfig(t, auth), device.NewFakeTime(t0))
	cashier, manager := h.user("ana", RoleCashier), h.user("boss", RoleManager)
	auth.SetFaults(testregime.Faults{Down: true})
	for i := range 3 {
		h.mustSale(cashier, fmt.Sprint("a", i), goodSale)
	}
	h.step()
	h.ft.Advance(h.cfg.Submit.OutageAfter.Duration + time.Minute)
	h.mustSale(cashier, "b", goodSale)
	h.step()
	if incs := h.incidents(manager); len(incs) != 1 || incs[0].Kind != "outage" || !incs[0].Open() {
		t.Fatalf("incidents during the outage = %+v", incs)
	}
	auth.SetFaults(testregime.Faults{})
	if w := h.do(request{method: "POST", path: "/v1/replay", token: manager}); w.Code != http.StatusAccepted {
		t.Fatalf("replay = %d %s", w.Code, w.Body)
	}
	h.step()
	h.step()
	var got struct {
		Replay  ReplayProgress
		Pending int
	}
	decodeBody(t, h.get(manager, "/v1/replay"), &got)
	if p := got.Replay; got.Pending != 0 || p.Total != 4 || p.Done != 4 || p.Accepted != 4 || p.Finished.IsZero() {
		t.Errorf("replay progress = %+v", got)
	}
	if incs := h.incidents(manager); len(incs) != 1 || incs[0].Open() {
		t.Errorf("incident after the replay = %+v", incs)
	}
	checkNumbering(t, h.a.Store(), auth)
}

// A credit note goes to the authority with the number its original was
// accepted under (KRA's orgInvcNo), which only the answer to the original
// gave the unit.
func TestNumberedNoteNamesItsOriginalsNumber(t *testing.T) {
	auth := testregime.NewAuthority()
	h := startHarness(t, numberedConfig(t, auth), device.NewFakeTime(t0))
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "a", goodSale)
	h.mustSale(cashier, "b", goodSale) // rejected: the note's original is the third
	h.mustSale(cashier, "c", goodSale)
	auth.Reject(2, "buyer PIN unknown")
	h.drain()
	h.mustSale(cashier, "n", note("credit_note", "3", teaLine("1", "5.00")))
	h.drain()
	var ans struct {
		Number         uint64 `json:"number"`
		OriginalNumber uint64 `json:"original_number"`
	}
	r := h.record(4)
	if err := json.Unmarshal(r.Answer, &ans); err != nil {
		t.Fatalf("note's answer %s: %v", r.Answer, err)
	}
	// Document 3 was accepted as number 2 (document 2 was refused and
	// released its number); the note is number 3.
	if ans.Number != 3 || ans.OriginalNumber != 2 {
		t.Errorf("note accepted as %d naming original number %d, want 3 naming 2", ans.Number, ans.OriginalNumber)
	}
}
