package agent

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
)

// scripted is the test regime with a submission outcome the test chooses
// per document, and a record of the attempts.
type scripted struct {
	stamping.Regime
	mu      sync.Mutex
	outcome func(counter uint64) stamping.Result
	calls   map[uint64]int
	ordered bool
	// allOrdered makes every document go in order (AllOrdered).
	allOrdered bool
	// hold, if set, is called with each document's counter before the
	// outcome, outside mu: it may block one submission alone.
	hold func(counter uint64)
}

func (s *scripted) Name() string { return "scripted" }

func (s *scripted) Submit(_ context.Context, sub stamping.Submission) stamping.Result {
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		hold(sub.Slot.Counter)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[sub.Slot.Counter]++
	if s.outcome == nil {
		return stamping.Result{Outcome: stamping.Accepted, Answer: []byte(`{"status":"ok"}`)}
	}
	return s.outcome(sub.Slot.Counter)
}

func (s *scripted) InOrder(stamping.Submission) bool { return s.ordered }
func (s *scripted) AllInOrder() bool                 { return s.allOrdered }

func (s *scripted) script(f func(counter uint64) stamping.Result) {
	s.mu.Lock()
	s.outcome = f
	s.mu.Unlock()
}

func (s *scripted) attempts(counter uint64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[counter]
}

var lastScripted *scripted

func init() {
	stamping.Register("scripted", func(cfg stamping.Config) (stamping.Regime, error) {
		base, err := stamping.New("test", cfg)
		if err != nil {
			return nil, err
		}
		lastScripted = &scripted{Regime: base, calls: map[uint64]int{}}
		return lastScripted, nil
	})
}

func retryable(msg string) stamping.Result {
	return stamping.Result{Outcome: stamping.Retryable, Messages: []string{msg}}
}

// submitHarness is an agent on the scripted regime with submission on;
// the test drives the submitter one step at a time.
func submitHarness(t *testing.T) (*harness, *scripted, string) {
	t.Helper()
	return submitHarnessWith(t, nil)
}

// submitHarnessWith is submitHarness with the submission settings mod makes.
func submitHarnessWith(t *testing.T, mod func(*SubmitConfig)) (*harness, *scripted, string) {
	t.Helper()
	h := newHarness(t, func(c *Config) {
		c.Regime.Name = "scripted"
		c.Regime.Options = nil
		c.Submit.Enabled = true
		if mod != nil {
			mod(&c.Submit)
		}
	})
	return h, lastScripted, h.user("ana", RoleCashier)
}

// step is one round of the submitter, and waits for the submissions it
// dispatched to be recorded.
func (h *harness) step() {
	h.t.Helper()
	if _, err := h.a.submit.step(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.a.submit.running.Wait()
}

func (h *harness) record(counter uint64) *queue.Record {
	h.t.Helper()
	r, err := h.a.Store().Document(counter)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func TestSubmitterDeliversAndRecordsAnswers(t *testing.T) {
	h, _, cashier := submitHarness(t)
	for i := range 5 {
		h.mustSale(cashier, fmt.Sprint("k", i), goodSale)
	}
	h.step()
	for c := uint64(1); c <= 5; c++ {
		if r := h.record(c); r.Status != queue.StatusAccepted || string(r.Answer) != `{"status":"ok"}` {
			t.Errorf("document %d: %v %s", c, r.Status, r.Answer)
		}
	}
	if st := h.status(cashier); st.Outbox.Pending != 0 || !st.Submission.Enabled || st.Submission.LastContact.IsZero() {
		t.Errorf("status after delivery = %+v", st)
	}
}

// An outage: documents keep being issued, an incident opens after
// outage_after, the manager records the notification, and when the
// authority is back everything is delivered and the incident closes with
// the count of documents issued during it.
func TestSubmitterOutageIncident(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	manager := h.user("boss", RoleManager)
	sc.script(func(uint64) stamping.Result { return retryable("connection refused") })
	for i := range 3 {
		h.mustSale(cashier, fmt.Sprint("a", i), goodSale)
	}
	h.step()
	if n := len(h.incidents(manager)); n != 0 {
		t.Fatalf("%d incidents after one failed round, want none before outage_after", n)
	}
	if st := h.status(manager); st.Submission.FailingSince.IsZero() || !strings.Contains(st.Submission.LastError, "refused") {
		t.Errorf("status while failing = %+v", st.Submission)
	}
	h.ft.Advance(h.cfg.Submit.OutageAfter.Duration + time.Minute)
	for i := range 2 {
		h.mustSale(cashier, fmt.Sprint("b", i), goodSale)
	}
	h.step()
	incs := h.incidents(manager)
	if len(incs) != 1 || incs[0].Kind != "outage" || !incs[0].Open() || incs[0].Data["counter_at_start"] != "3" {
		t.Fatalf("incidents during the outage = %+v", incs)
	}
	w := h.sendJSON("POST", fmt.Sprintf("/v1/incidents/%d/notifications", incs[0].ID), manager, map[string]string{"reference": "ZATCA-FN-2026-0042"})
	if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), "ZATCA-FN-2026-0042") {
		t.Fatalf("notification: %d %s", w.Code, w.Body)
	}
	if p := problemOf(t, h.sendJSON("POST", fmt.Sprintf("/v1/incidents/%d/notifications", incs[0].ID), manager, map[string]string{"reference": " "}), http.StatusBadRequest); !namesField(p, "reference") {
		t.Errorf("empty reference: %+v", p)
	}
	problemOf(t, h.sendJSON("POST", "/v1/incidents/999/notifications", manager, map[string]string{"reference": "x"}), http.StatusNotFound)

	sc.script(nil) // the authority is back
	h.ft.Advance(h.cfg.Submit.MaxBackoff.Duration + time.Second)
	h.step()
	h.step() // the empty outbox closes the incident
	incs = h.incidents(manager)
	if len(incs) != 1 || incs[0].Open() || !strings.Contains(incs[0].Summary, "5 documents delivered after the outage, 2 of them issued during it") || len(incs[0].Notified) != 1 {
		t.Fatalf("incident after recovery = %+v", incs)
	}
	for c := uint64(1); c <= 5; c++ {
		if r := h.record(c); r.Status != queue.StatusAccepted {
			t.Errorf("document %d: %v", c, r.Status)
		}
	}
}

// A rejection keeps its slot, is marked with the authority's messages, and
// does not hold up the documents behind it; retryable failures back off.
func TestSubmitterRejectionDoesNotBlock(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	sc.script(func(c uint64) stamping.Result {
		switch c {
		case 2:
			return stamping.Result{Outcome: stamping.Rejected, Messages: []string{"BR-KSA-17: reason missing"}}
		case 3:
			return retryable("503")
		}
		return stamping.Result{Outcome: stamping.AcceptedWithWarnings, Messages: []string{"BR-KSA-98"}}
	})
	for i := range 4 {
		h.mustSale(cashier, fmt.Sprint("k", i), goodSale)
	}
	h.step()
	if r := h.record(2); r.Status != queue.StatusRejected || r.Messages[0] != "BR-KSA-17: reason missing" {
		t.Errorf("rejected document: %v %v", r.Status, r.Messages)
	}
	if r := h.record(4); r.Status != queue.StatusAcceptedWithWarnings {
		t.Errorf("document after the rejection: %v", r.Status)
	}
	out, _ := h.a.Store().Outbox(10)
	if len(out) != 1 || out[0].Counter != 3 || out[0].Attempts != 1 || !out[0].NextAttempt.After(h.ft.Wall()) || out[0].LastError != "503" {
		t.Fatalf("outbox = %+v", out)
	}
	h.step() // not due yet
	if n := sc.attempts(3); n != 1 {
		t.Errorf("document 3 tried %d times before its backoff ended", n)
	}
}

// Refused credentials pause submission and open an incident; a replay by
// the manager resumes, and its progress counts what came back.
func TestSubmitterCredentialsAndReplay(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	manager := h.user("boss", RoleManager)
	sc.script(func(uint64) stamping.Result {
		return stamping.Result{Outcome: stamping.CredentialError, Messages: []string{"401 Unauthorized"}}
	})
	for i := range 3 {
		h.mustSale(cashier, fmt.Sprint("k", i), goodSale)
	}
	h.step()
	before := sc.attempts(1) + sc.attempts(2) + sc.attempts(3)
	h.ft.Advance(time.Hour)
	h.step()
	if after := sc.attempts(1) + sc.attempts(2) + sc.attempts(3); after != before {
		t.Errorf("%d submissions while paused", after-before)
	}
	if st := h.status(manager); !strings.Contains(st.Submission.Paused, "credentials") {
		t.Errorf("status = %+v", st.Submission)
	}
	if incs := h.incidents(manager); len(incs) != 1 || incs[0].Kind != "credentials" {
		t.Fatalf("incidents = %+v", incs)
	}
	problemOf(t, h.get(manager, "/v1/replay"), http.StatusNotFound)
	sc.script(func(c uint64) stamping.Result {
		if c == 3 {
			return stamping.Result{Outcome: stamping.Rejected, Messages: []string{"invalid-invoice-hash"}}
		}
		return stamping.Result{Outcome: stamping.Accepted}
	})
	w := h.do(request{method: "POST", path: "/v1/replay", token: manager})
	if w.Code != http.StatusAccepted {
		t.Fatalf("POST /v1/replay = %d %s", w.Code, w.Body)
	}
	h.step()
	h.step()
	var got struct {
		Replay  ReplayProgress
		Pending int
	}
	decodeBody(t, h.get(manager, "/v1/replay"), &got)
	r := got.Replay
	if r.Total != 3 || r.Done != 3 || r.Accepted != 2 || r.Rejected != 1 || r.Finished.IsZero() || got.Pending != 0 ||
		len(r.Rejections) != 1 || r.Rejections[0].Counter != 3 {
		t.Fatalf("replay progress = %+v", got)
	}
	found := false
	for _, e := range h.audit(manager) {
		found = found || e.Action == queue.AuditReplay && e.Actor == "boss"
	}
	if !found {
		t.Error("the replay is not in the audit log")
	}
}

// Documents that must go in order go one at a time and wait behind one
// that has not gone through.
func TestSubmitterKeepsOrder(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	sc.ordered = true
	sc.script(func(c uint64) stamping.Result {
		if c == 2 {
			return retryable("timeout")
		}
		return stamping.Result{Outcome: stamping.Accepted}
	})
	for i := range 3 {
		h.mustSale(cashier, fmt.Sprint("k", i), goodSale)
	}
	h.step()
	if sc.attempts(1) != 1 || sc.attempts(2) != 1 || sc.attempts(3) != 0 {
		t.Fatalf("attempts = %d %d %d, want 1 1 0", sc.attempts(1), sc.attempts(2), sc.attempts(3))
	}
	// The next round comes at once (the first one submitted something):
	// document 2 waits out its backoff, and 3 still waits behind it.
	h.step()
	if sc.attempts(2) != 1 || sc.attempts(3) != 0 {
		t.Fatalf("while 2 backs off: attempts of 2 and 3 = %d %d, want 1 0", sc.attempts(2), sc.attempts(3))
	}
	sc.script(func(uint64) stamping.Result { return stamping.Result{Outcome: stamping.Accepted} })
	out, err := h.a.Store().Outbox(10)
	if err != nil || len(out) != 2 {
		t.Fatalf("outbox %+v, %v", out, err)
	}
	h.ft.Advance(out[0].NextAttempt.Sub(h.ft.Wall()))
	h.step()
	if sc.attempts(2) != 2 || sc.attempts(3) != 1 || h.record(2).Status != queue.StatusAccepted || h.record(3).Status != queue.StatusAccepted {
		t.Fatalf("after the backoff: attempts of 2 and 3 = %d %d, statuses %s %s", sc.attempts(2), sc.attempts(3), h.record(2).Status, h.record(3).Status)
	}
}

// Behind a held-back document of a regime whose documents all go in
// order, a round reads nothing more: a long backlog costs one read.
func TestSubmitterReadsNothingBehindAHeldBackDocument(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	sc.ordered, sc.allOrdered = true, true
	sc.script(func(c uint64) stamping.Result {
		if c == 2 {
			return retryable("timeout")
		}
		return stamping.Result{Outcome: stamping.Accepted}
	})
	for i := range 40 {
		h.mustSale(cashier, fmt.Sprint("k", i), goodSale)
	}
	h.step() // 1 goes, 2 is held back
	var reads []uint64
	h.a.submit.read = func(c uint64) { reads = append(reads, c) }
	h.step() // 2 waits out its backoff; 3–40 wait behind it
	if len(reads) != 1 || reads[0] != 2 || sc.attempts(3) != 0 {
		t.Fatalf("reads in the round behind held-back document 2: %v (want [2]); attempts of 3: %d", reads, sc.attempts(3))
	}
}

func TestReplayNeedsSubmission(t *testing.T) {
	h := newHarness(t, nil)
	manager := h.user("boss", RoleManager)
	if p := problemOf(t, h.do(request{method: "POST", path: "/v1/replay", token: manager}), http.StatusConflict); !strings.Contains(p.Detail, "submission.enabled") {
		t.Errorf("replay with submission off: %+v", p)
	}
}

// A rejected document gets a corrective credit note built from its sale,
// once; other documents and roles are refused.
func TestCorrectiveCreditNote(t *testing.T) {
	h, cashier := rejectFirst(t)
	manager := h.user("boss", RoleManager)
	h.mustSale(cashier, "k1", goodSale)
	h.mustSale(cashier, "k2", goodSale)
	h.step()
	problemOf(t, h.do(request{method: "POST", path: "/v1/documents/2/credit-note", token: manager}), http.StatusConflict)
	problemOf(t, h.do(request{method: "POST", path: "/v1/documents/1/credit-note", token: cashier}), http.StatusForbidden)

	w := h.do(request{method: "POST", path: "/v1/documents/1/credit-note", token: manager})
	if w.Code != http.StatusCreated {
		t.Fatalf("credit note: %d %s", w.Code, w.Body)
	}
	var note DocumentView
	decodeBody(t, w, &note)
	rec := h.record(note.Counter)
	if rec.Kind != "credit_note" || rec.User != "boss" || !strings.Contains(string(rec.Sale), `"original":"T-000001"`) ||
		!strings.Contains(string(rec.Sale), "BR-KSA-37: building number  must be 4 digits") || !strings.Contains(string(rec.Sale), `"Tea"`) {
		t.Errorf("credit note %d: kind %s user %s sale %s", note.Counter, rec.Kind, rec.User, rec.Sale)
	}
	again := h.do(request{method: "POST", path: "/v1/documents/1/credit-note", token: manager})
	var same DocumentView
	decodeBody(t, again, &same)
	if again.Code != http.StatusOK || same.Counter != note.Counter {
		t.Errorf("resend: %d, counter %d; want 200 and %d", again.Code, same.Counter, note.Counter)
	}
	problemOf(t, h.do(request{method: "POST", path: fmt.Sprintf("/v1/documents/%d/credit-note", note.Counter), token: manager}), http.StatusConflict)
}

// runSubmitter runs the submitter's loop, as the agent does, until the
// test ends.
func runSubmitter(t *testing.T, h *harness) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.a.submit.run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor polls cond until it holds; the deadline only turns a hang into
// a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A document the authority is slow to answer holds one submission slot,
// not the submitter: documents issued meanwhile are delivered through the
// other slots, each once.
func TestSubmitterGoesPastASlowDocument(t *testing.T) {
	h, sc, cashier := submitHarnessWith(t, func(c *SubmitConfig) { c.Concurrency = 2 })
	entered, release := make(chan struct{}), make(chan struct{})
	sc.mu.Lock()
	sc.hold = func(counter uint64) {
		if counter == 1 {
			close(entered)
			<-release
		}
	}
	sc.mu.Unlock()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	runSubmitter(t, h)
	h.mustSale(cashier, "slow", goodSale)
	<-entered
	for i := range 5 {
		h.mustSale(cashier, fmt.Sprint("k", i), goodSale)
	}
	waitFor(t, "documents 2-6 to be accepted while document 1 is at the authority", func() bool {
		for c := uint64(2); c <= 6; c++ {
			if h.record(c).Status != queue.StatusAccepted {
				return false
			}
		}
		return true
	})
	if r := h.record(1); r.Status != queue.StatusPending {
		t.Errorf("document 1 = %v while the authority holds it", r.Status)
	}
	close(release)
	released = true
	waitFor(t, "document 1 to be accepted", func() bool { return h.record(1).Status == queue.StatusAccepted })
	for c := uint64(1); c <= 6; c++ {
		if n := sc.attempts(c); n != 1 {
			t.Errorf("document %d submitted %d times, want once", c, n)
		}
	}
}

// A document whose answer is recorded after the submitter listed the
// outbox, while it was still in flight, is not submitted again from that
// listing, which still shows it.
func TestSubmitterSubmitsEachDocumentOnce(t *testing.T) {
	h, sc, cashier := submitHarnessWith(t, func(c *SubmitConfig) { c.Concurrency = 2 })
	entered, release := make(chan struct{}, 2), make(chan struct{})
	sc.mu.Lock()
	sc.hold = func(counter uint64) {
		if counter == 1 {
			entered <- struct{}{}
			<-release
		}
	}
	sc.mu.Unlock()
	h.mustSale(cashier, "k1", goodSale)
	if _, err := h.a.submit.step(context.Background()); err != nil { // dispatches document 1
		t.Fatal(err)
	}
	<-entered
	h.mustSale(cashier, "k2", goodSale)
	// The next round lists documents 1 and 2; document 1's answer is then
	// recorded before the round goes through the listing.
	h.a.submit.listed = func() {
		h.a.submit.listed = nil
		close(release)
		waitFor(t, "document 1 to be accepted", func() bool { return h.record(1).Status == queue.StatusAccepted })
		waitFor(t, "document 1 to settle", func() bool {
			h.a.submit.mu.Lock()
			defer h.a.submit.mu.Unlock()
			return !h.a.submit.inFlight[1]
		})
	}
	h.step()
	for c := uint64(1); c <= 2; c++ {
		if n := sc.attempts(c); n != 1 {
			t.Errorf("document %d submitted %d times, want once", c, n)
		}
	}
}

// An outage ends only once every answer is counted: a round that finds the
// outbox empty while the last answer is in the store but not yet counted
// (a concurrent dispatch) must not close the incident without it.
func TestOutageEndsAfterTheLastAnswerIsCounted(t *testing.T) {
	h, sc, cashier := submitHarnessWith(t, func(c *SubmitConfig) { c.Concurrency = 1 })
	manager := h.user("boss", RoleManager)
	sc.script(func(uint64) stamping.Result { return retryable("connection refused") })
	h.mustSale(cashier, "a", goodSale)
	h.mustSale(cashier, "b", goodSale)
	h.step()
	h.ft.Advance(h.cfg.Submit.OutageAfter.Duration + time.Minute)
	h.step()
	if incs := h.incidents(manager); len(incs) != 1 || !incs[0].Open() {
		t.Fatalf("incidents during the outage = %+v", incs)
	}
	sc.script(nil) // the authority is back
	h.ft.Advance(h.cfg.Submit.MaxBackoff.Duration + time.Second)
	h.a.submit.answerRecorded = func() {
		if st, err := h.a.Store().OutboxStats(); err == nil && st.Pending == 0 {
			h.a.submit.drained(h.ft.Wall()) // a concurrent round sees the empty outbox now
		}
	}
	h.step()
	h.a.submit.answerRecorded = nil
	h.step()
	incs := h.incidents(manager)
	if len(incs) != 1 || incs[0].Open() || !strings.Contains(incs[0].Summary, "2 documents delivered after the outage") {
		t.Fatalf("incident after recovery = %+v, want it closed with both documents delivered", incs)
	}
}
