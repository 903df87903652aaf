package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/testregime"
)

// TestRemoteRegime runs the regime seam end to end with a regime whose
// authority signs at submission: the sale is journaled pending and queued;
// the authority's answer, recorded later, carries a signature over the
// exact stored bytes.
func TestRemoteRegime(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Regime.Name = testregime.Remote })
	cashier := h.user("cashier1", RoleCashier)
	manager := h.user("boss", RoleManager)

	if st := h.status(manager); st.Regime != testregime.Remote || st.StampMode != "remote" {
		t.Fatalf("status regime %q mode %q, want %s remote", st.Regime, st.StampMode, testregime.Remote)
	}
	issued := h.mustSale(cashier, "k1", goodSale)
	if issued.Status != queue.StatusPending || issued.Answer != nil {
		t.Errorf("new document: status %v, answer %s; want pending with no answer", issued.Status, issued.Answer)
	}
	st := h.status(manager)
	if st.Outbox.Pending != 1 || !st.Outbox.Oldest.Equal(t0) {
		t.Errorf("outbox %+v, want 1 pending since %v", st.Outbox, t0)
	}
	ob, err := h.a.Store().Outbox(10)
	if err != nil || len(ob) != 1 || ob[0].Counter != 1 || ob[0].Regime != testregime.Remote {
		t.Fatalf("outbox = %+v, %v", ob, err)
	}

	// Deliver it, as the submission worker will.
	rec, err := h.a.Store().Document(1)
	if err != nil {
		t.Fatal(err)
	}
	res := h.a.regime.Submit(context.Background(), stamping.Submission{
		Slot:     stamping.Slot{Counter: rec.Counter, PrevHash: rec.PrevHash, UUID: rec.UUID, IssuedAt: rec.IssuedAt},
		Document: rec.Document, Attempt: 1,
	})
	if res.Outcome != stamping.Accepted {
		t.Fatalf("Submit outcome %v, want accepted", res.Outcome)
	}
	h.ft.Advance(time.Second)
	if err := h.a.Store().RecordAnswer(rec.Counter, queue.Answer{Status: queue.StatusAccepted, Body: res.Answer, Messages: res.Messages, At: h.ft.Wall()}); err != nil {
		t.Fatalf("RecordAnswer: %v", err)
	}
	// A second answer for the same document is refused: it left the outbox.
	if err := h.a.Store().RecordAnswer(rec.Counter, queue.Answer{Status: queue.StatusRejected, At: h.ft.Wall()}); err == nil {
		t.Error("a second answer was recorded")
	}

	w := h.get(cashier, "/v1/documents/1")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /v1/documents/1 = %d %s", w.Code, w.Body)
	}
	var raw struct {
		Status     string
		Document   []byte
		Hash       string
		Answer     json.RawMessage
		AnsweredAt time.Time `json:"answered_at"`
	}
	decodeBody(t, w, &raw)
	if raw.Status != "accepted" {
		t.Errorf("status %q, want accepted", raw.Status)
	}
	if string(raw.Document) != string(issued.Document) || raw.Hash != issued.Hash {
		t.Error("the answer changed the stored document")
	}
	if !raw.AnsweredAt.Equal(t0.Add(time.Second)) {
		t.Errorf("answered_at = %v, want %v", raw.AnsweredAt, t0.Add(time.Second))
	}
	var answer struct{ Status, UUID, Signature string }
	if err := json.Unmarshal(raw.Answer, &answer); err != nil {
		t.Fatalf("answer %s is not the authority's JSON: %v", raw.Answer, err)
	}
	if answer.UUID != issued.UUID || answer.Signature == "" {
		t.Errorf("answer %+v does not belong to document %s", answer, issued.UUID)
	}
	if !testregime.VerifyAnswerSignature(raw.Document, raw.Answer) {
		t.Error("the answer's signature does not verify against the document bytes")
	}
	tampered := append([]byte(nil), raw.Document...)
	tampered[len(tampered)/2] ^= 1
	if testregime.VerifyAnswerSignature(tampered, raw.Answer) {
		t.Error("the signature verifies against altered bytes too; the check proves nothing")
	}

	st = h.status(manager)
	if st.Outbox.Pending != 0 || st.Counter != 1 {
		t.Errorf("after the answer: outbox %+v counter %d", st.Outbox, st.Counter)
	}
	// The next document chains to the first as before.
	next := h.mustSale(cashier, "k2", goodSale)
	if next.PrevHash != issued.Hash || next.Status != queue.StatusPending {
		t.Errorf("second document: prev %q status %v", next.PrevHash, next.Status)
	}
	if rep := h.checkStore(); rep.Documents != 2 || rep.Pending != 1 {
		t.Errorf("check: %+v, want 2 documents, 1 pending", rep)
	}
}
