package ofdsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/kz"
	"github.com/egsd/egsd/stamping/sale"
)

// sealCall is one record the regime asked its archiver for.
type sealCall struct {
	ticket  *kz.TicketRequest
	sign    string
	counter uint64
	uuid    string
	doc     []byte
}

// recordingArchiver keeps what it is asked to seal and fails while fail
// is set.
type recordingArchiver struct {
	calls []sealCall
	fail  error
}

func (a *recordingArchiver) Seal(t *kz.TicketRequest, sign string, counter uint64, uuid string, doc []byte) ([]byte, error) {
	a.calls = append(a.calls, sealCall{t, sign, counter, uuid, bytes.Clone(doc)})
	if a.fail != nil {
		return nil, a.fail
	}
	return fmt.Appendf(nil, "<Record counter=\"%d\" sign=\"%s\"/>", counter, sign), nil
}

// TestRegimeSealsArchive: the regime asks for a record when a ticket is
// issued autonomously (without a fiscal sign) and when the OFD accepts a
// ticket (with the OFD's fiscal sign, the ticket as sent and the stored
// document), and for none for a ticket issued online. An autonomous
// ticket whose record cannot be sealed is not issued and its number in
// the shift stays free; an accepted ticket whose record cannot be sealed
// is still accepted, with a warning saying so.
func TestRegimeSealsArchive(t *testing.T) {
	srv := &Server{Config: Config{ID: kkmID, Token: 1000}}
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	r := newRegime(t, addr)
	arch := &recordingArchiver{}
	r.KeepArchive(arch)
	rng := rand.New(rand.NewPCG(5, 6))
	at := time.Now()
	stamp := func(counter uint64) (stamping.Submission, stamping.Document, error) {
		slot := stamping.Slot{Counter: counter, UUID: fmt.Sprintf("uuid-%d", counter), IssuedAt: at}
		doc, err := r.Stamp(slot, randomSale(rng, sale.Invoice))
		return stamping.Submission{Slot: slot, Document: doc.Bytes, Hash: doc.Hash, Attempt: 1}, doc, err
	}
	save := func([]byte) error { return nil }

	online, doc, err := stamp(1)
	if err != nil || doc.Archive != nil || len(arch.calls) != 0 {
		t.Fatalf("a ticket issued online: record %q, %d seals, %v", doc.Archive, len(arch.calls), err)
	}
	res, _ := r.SubmitSession(context.Background(), online, nil, save)
	reg := srv.Tickets(kkmID)
	if res.Outcome != stamping.Accepted || len(reg) != 1 || len(arch.calls) != 1 {
		t.Fatalf("accepted: %v %v, %d registered, %d seals", res.Outcome, res.Messages, len(reg), len(arch.calls))
	}
	c := arch.calls[0]
	if c.sign != reg[0].FiscalSign || c.counter != 1 || c.uuid != "uuid-1" || !bytes.Equal(c.doc, online.Document) ||
		c.ticket.ShiftDocumentNumber != reg[0].Ticket.ShiftDocumentNumber || c.ticket.Amounts.Total != reg[0].Ticket.Amounts.Total {
		t.Fatalf("sealed on acceptance: sign %q (OFD %q), document %d %s", c.sign, reg[0].FiscalSign, c.counter, c.uuid)
	}
	if want := fmt.Sprintf("<Record counter=\"1\" sign=\"%s\"/>", reg[0].FiscalSign); string(res.Archive) != want {
		t.Fatalf("the result carries record %q, want %q", res.Archive, want)
	}

	srv.SetDown(true)
	straddler, _, err := stamp(2)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := r.SubmitSession(context.Background(), straddler, nil, save); res.Outcome != stamping.Retryable {
		t.Fatalf("with the OFD down: %v %v", res.Outcome, res.Messages)
	}
	arch.fail = errors.New("no space left on device")
	if _, doc, err := stamp(3); err == nil || !strings.Contains(err.Error(), "signed archive record") || !strings.Contains(err.Error(), "no space left") || doc.Bytes != nil {
		t.Fatalf("an autonomous ticket whose record fails: %v", err)
	}
	arch.fail = nil
	autonomous, doc, err := stamp(3)
	if err != nil || doc.Archive == nil {
		t.Fatalf("an autonomous ticket: record %q, %v", doc.Archive, err)
	}
	c = arch.calls[len(arch.calls)-1]
	if c.sign != "" || c.counter != 3 || c.ticket.OfflineTicketNumber != 3 || c.ticket.ShiftDocumentNumber != 3 || !bytes.Equal(c.doc, doc.Bytes) {
		t.Fatalf("sealed at issue: sign %q, document %d, autonomous sign %d, shift document %d", c.sign, c.counter, c.ticket.OfflineTicketNumber, c.ticket.ShiftDocumentNumber)
	}

	srv.SetDown(false)
	if res, _ := r.SubmitSession(context.Background(), straddler, &autonomous, save); res.Outcome != stamping.Accepted || res.Archive == nil {
		t.Fatalf("the ticket in flight, resent: %v %v", res.Outcome, res.Messages)
	}
	arch.fail = errors.New("the key is gone")
	res, _ = r.SubmitSession(context.Background(), autonomous, nil, save)
	a, err := kz.DecodeStoredAnswer(res.Answer)
	if res.Outcome != stamping.AcceptedWithWarnings || res.Archive != nil || err != nil || a.FiscalSign == "" ||
		!containsErr(res.Messages, "signed archive record could not be sealed: the key is gone") {
		t.Fatalf("accepted, its record failing: %v %v, record %q, answer %+v %v", res.Outcome, res.Messages, res.Archive, a, err)
	}
	if c := arch.calls[len(arch.calls)-1]; c.sign != a.FiscalSign || c.ticket.OfflineTicketNumber != 3 {
		t.Errorf("sealed on the autonomous ticket's acceptance: sign %q, autonomous sign %d", c.sign, c.ticket.OfflineTicketNumber)
	}
	if n := len(srv.Tickets(kkmID)); n != 3 {
		t.Errorf("the OFD registered %d tickets, want 3", n)
	}
}
