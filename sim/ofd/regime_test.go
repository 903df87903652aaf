package ofdsim

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/kz"
	"github.com/egsd/egsd/stamping/sale"
)

// newRegime is a Kazakh regime configured against the OFD at addr.
func newRegime(t *testing.T, addr string) *kz.Regime {
	t.Helper()
	r, err := kz.NewRegime(stamping.Config{Seller: stamping.Seller{Name: "ТОО «Демо»", VATNumber: "940140000385"},
		Decode: func(v any) error {
			*v.(*kz.Options) = kz.Options{OFDAddress: addr, KKMID: kkmID, Token: 1000, RNM: "620300000011", ZNM: "EGSD-0001",
				OFDName: "OFD", OFDWebsite: "oofd.kz", ReadTimeout: "5s"}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// stampAt stamps sale s as document counter at.
func stampAt(t *testing.T, r *kz.Regime, counter uint64, at time.Time, s *sale.Sale) stamping.Submission {
	t.Helper()
	doc, err := r.Stamp(stamping.Slot{Counter: counter, IssuedAt: at}, s)
	if err != nil {
		t.Fatal(err)
	}
	return stamping.Submission{Slot: stamping.Slot{Counter: counter, IssuedAt: at}, Document: doc.Bytes, Hash: doc.Hash, Attempt: 1}
}

// TestRegimeBeginsNextWithAnswer: with a final answer the regime begins
// the next document's request, so the session stored with the answer
// holds it; that request then goes out without a save of its own, and
// the OFD registers both, once each.
func TestRegimeBeginsNextWithAnswer(t *testing.T) {
	srv := &Server{Config: Config{ID: kkmID, Token: 1000}}
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	r := newRegime(t, addr)
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Now()
	first, second := stampAt(t, r, 1, at, randomSale(rng, sale.Invoice)), stampAt(t, r, 2, at, randomSale(rng, sale.Invoice))
	saves := 0
	save := func([]byte) error { saves++; return nil }
	res, stored := r.SubmitSession(context.Background(), first, &second, save)
	if res.Outcome != stamping.Accepted || saves != 1 {
		t.Fatalf("first: %v %v, %d saves", res.Outcome, res.Messages, saves)
	}
	sess, err := kz.UnmarshalSession(stored)
	if err != nil || sess.Pending == nil || sess.Pending.ReqNum != 2 || sess.Pending.Token != sess.Token {
		t.Fatalf("the session stored with the first answer: %+v, %v; want the second request pending with the new TOKEN", sess, err)
	}
	refuse := func([]byte) error { return errors.New("must not be called") }
	res, stored = r.SubmitSession(context.Background(), second, nil, refuse)
	if res.Outcome != stamping.Accepted {
		t.Fatalf("second: %v %v", res.Outcome, res.Messages)
	}
	if sess, err := kz.UnmarshalSession(stored); err != nil || sess.Pending != nil || sess.ReqNum != 2 {
		t.Errorf("session after the second: %+v, %v", sess, err)
	}
	if n := len(srv.Tickets(kkmID)); n != 2 {
		t.Errorf("the OFD registered %d tickets", n)
	}
	// A pending request that is another document's is not sent for this one.
	third := stampAt(t, r, 3, at, randomSale(rng, sale.Invoice))
	fourth := stampAt(t, r, 4, at, randomSale(rng, sale.Invoice))
	if res, _ := r.SubmitSession(context.Background(), third, &fourth, save); res.Outcome != stamping.Accepted {
		t.Fatal(res.Messages)
	}
	if res, _ := r.SubmitSession(context.Background(), third, nil, save); res.Outcome != stamping.Retryable || !containsErr(res.Messages, "another document's") {
		t.Errorf("a document submitted while another's request is pending: %v %v", res.Outcome, res.Messages)
	}
}

func containsErr(msgs []string, s string) bool {
	return slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, s) })
}

// TestRegimeRestampRollsBack: a counter stamped again (its first
// transaction did not commit) gets the number in the shift it had, and
// the shift's totals count it once; Resume from the journal gives the
// same shift.
func TestRegimeRestampRollsBack(t *testing.T) {
	r := newRegime(t, "127.0.0.1:1")
	rng := rand.New(rand.NewPCG(3, 4))
	at := time.Now()
	var journal []stamping.JournalEntry
	for c := uint64(1); c <= 3; c++ {
		sub := stampAt(t, r, c, at, randomSale(rng, sale.Invoice))
		journal = append(journal, stamping.JournalEntry{Counter: c, Document: sub.Document, IssuedAt: at, Waiting: true})
	}
	again := stampAt(t, r, 3, at, randomSale(rng, sale.Invoice)) // document 3's transaction failed
	req, err := kz.UnmarshalRequest(again.Document)
	if err != nil || req.Ticket.ShiftDocumentNumber != 3 {
		t.Fatalf("document 3 stamped again is number %d in its shift (%v), want 3", req.Ticket.ShiftDocumentNumber, err)
	}
	journal[2].Document = again.Document
	rep, err := r.Shift(at)
	if err != nil || rep.Documents != 3 || rep.Operations[kz.OperationSell].Tickets != 3 {
		t.Fatalf("shift after the re-stamp: %+v, %v", rep, err)
	}
	resumed := newRegime(t, "127.0.0.1:1")
	if err := resumed.Resume(journal, journal); err != nil {
		t.Fatal(err)
	}
	rep2, err := resumed.Shift(at)
	if err != nil || rep2.Documents != rep.Documents || rep2.Cash != rep.Cash || rep2.Revenue != rep.Revenue {
		t.Errorf("resumed shift %+v, the running one %+v (%v)", rep2, rep, err)
	}
	next := stampAt(t, resumed, 4, at, randomSale(rng, sale.Invoice))
	if req, _ := kz.UnmarshalRequest(next.Document); req.Ticket.ShiftDocumentNumber != 4 || req.Ticket.ShiftNumber != 1 {
		t.Errorf("after Resume the next ticket is %d-%d, want 1-4", req.Ticket.ShiftNumber, req.Ticket.ShiftDocumentNumber)
	}
}
